-- API discovery handlers: pair each HTTP request written on a TLS connection with the first
-- response read on the same connection (same process, same SSL object), then report the call.
local http = require("probekit.http")

-- Requests waiting for their response, keyed by "pid:ssl".
local pending = {}
local pending_count = 0
local MAX_PENDING = 65536

local function key(ev) return ev.pid .. ":" .. ev.ssl end

function on_tls_write(ev)
  local req = http.parse_request(ev.data)
  if not req then return end
  local k = key(ev)
  if not pending[k] then pending_count = pending_count + 1 end
  if pending_count > MAX_PENDING then
    pending = {}
    pending_count = 1
  end
  pending[k] = {
    method = req.method,
    host = req.headers["host"] or "",
    path = req.target,
    ts = ev.ts,
    comm = ev.comm,
  }
end

function on_tls_read(ev)
  local k = key(ev)
  local call = pending[k]
  if not call then return end
  local resp = http.parse_response(ev.data)
  if not resp then return end
  pending[k] = nil
  pending_count = pending_count - 1
  local latency_ms = (ev.ts - call.ts) / 1e6
  emit("jsonl", {
    pid = ev.pid,
    comm = call.comm,
    method = call.method,
    host = call.host,
    path = call.path,
    status = resp.status,
    latency_ms = latency_ms,
  })
  emit("orchestrator", {
    method = call.method,
    host = call.host,
    path = call.path,
    latency_ms = latency_ms,
  })
end
