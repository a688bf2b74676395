local names = nil
local probes = {}
for _, n in ipairs(names) do probes[n] = { kprobe = n } end
return { policy = { name = "x" }, probe = probes }
