-- A Lua policy: the same table shape as TOML, generated in a loop. One counter per libc
-- I/O function, labelled by process name.
local functions = { "read", "write", "recv", "send", "recvfrom", "sendto" }

local probes, metrics = {}, {}
for _, fn in ipairs(functions) do
  probes[fn] = {
    target = "libc",
    uretprobe = fn,
    returns = "i64",
    event = false,
  }
  metrics["libc_" .. fn .. "_calls_total"] = {
    kind = "counter",
    probe = fn,
    labels = { comm = "comm" },
    help = "Calls to " .. fn .. "() by process name",
  }
  metrics["libc_" .. fn .. "_latency_ns"] = {
    kind = "histogram",
    probe = fn,
    value = "elapsed",
    buckets = "log2",
    help = "Time spent in " .. fn .. "()",
  }
end

return {
  policy = { name = "libc-io", description = "libc I/O calls and their latency, per process" },
  target = { libc = { library = "libc.so.6" } },
  probe = probes,
  metric = metrics,
  sinks = { prometheus = { listen = "127.0.0.1:9435" } },
}
