local probes = {}
for i, fn in ipairs({ "tcp_sendmsg", "tcp_recvmsg" }) do
  probes[fn] = { kretprobe = fn, capture = { { name = "rc", value = "ret", type = "i32" } }, filter = "rc > " .. i }
end
return { policy = { name = "loop" }, probe = probes }
