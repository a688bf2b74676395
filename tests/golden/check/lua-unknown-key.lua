-- One probe per function, generated in a loop.
local probes = {}
for _, fn in ipairs({ "tcp_sendmsg", "tcp_recvmsg" }) do
  probes[fn] = { kprobe = fn, capture = { { name = "size", value = "arg2", typ = "u64" } } }
end
return { policy = { name = "lua-loop" }, probe = probes }
