local t = { policy = { name = 7 }, probe = { x = { kprobe = "f", capture = { "bad" } } } }
t.probe.y = { tracepoint = "nocolon", filter = "ret =>" }
return t
