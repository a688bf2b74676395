-- API discovery handlers. The kernel already paired and filtered the TLS plaintext
-- (stdlib/bpf/tls/stream.h): writes that reach us are HTTP/1.x request heads or HTTP/2 header
-- blocks; reads are response heads while a request waits, or HTTP/2 header blocks. Here each
-- request is matched with its response (FIFO per connection for HTTP/1.x, by stream id for
-- HTTP/2), secrets are redacted, and the call goes to every sink.
local http = require("probekit.http")
local http2 = require("probekit.http2")
local redact = require("probekit.redact")
local proc = require("probekit.proc")
local tls = require("probekit.tls")

local PROTO_HTTP1, PROTO_HTTP2 = 1, 2
local MAX_CONNS = 16384       -- connections tracked at once (a reset beyond: counted)
local MAX_WAITING = 256       -- unanswered requests kept per connection

local calls = metrics.counter("api_calls_total", "Outgoing HTTPS API calls seen on this node")
local latency = metrics.histogram("api_call_duration_seconds",
  "Time from request sent to response headers received",
  { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 })
local dropped = metrics.counter("api_discovery_dropped_total",
  "Requests forgotten before their response (connection table or queue full)")

-- Per connection (process + TLS connection object): what the handshake and the socket told
-- us, the HTTP/1.x requests waiting in order, HTTP/2 decoders and streams.
local conns, nconns = {}, 0

local function conn_of(ev)
  local key = ev.pid .. ":" .. ev.conn
  local c = conns[key]
  if c then return c end
  if nconns >= MAX_CONNS then
    dropped:add(nconns, { reason = "connections" })
    conns, nconns = {}, 0
  end
  c = { waiting = {}, head = 1, tail = 0, streams = {} }
  conns[key] = c
  nconns = nconns + 1
  return c
end

local function forget(ev)
  local key = ev.pid .. ":" .. ev.conn
  if conns[key] then
    conns[key] = nil
    nconns = nconns - 1
  end
end

local function ip_text(bytes, family)
  if type(bytes) ~= "string" or #bytes < 16 then return nil end
  if family == 2 then return string.format("%d.%d.%d.%d", bytes:byte(1, 4)) end
  local groups = {}
  for i = 1, 16, 2 do groups[#groups + 1] = string.format("%x", bytes:byte(i) * 256 + bytes:byte(i + 1)) end
  return table.concat(groups, ":")
end

-- The host a call went to: Host / :authority, else the TLS server name, else the peer.
local function host_of(c, header_host)
  if header_host and header_host ~= "" then return header_host end
  return c.sni or c.peer or "unknown"
end

-- /proc facts per process, looked up once a few seconds (pids are reused, processes exec).
local procs, nprocs = {}, 0
local function process(ev)
  local p = procs[ev.pid]
  if p and ev.ts - p.at < 5e9 then return p end
  if nprocs >= 4096 then procs, nprocs = {}, 0 end
  p = proc.info(ev.pid)
  p.at = ev.ts
  if not procs[ev.pid] then nprocs = nprocs + 1 end
  procs[ev.pid] = p
  return p
end

local function report(ev, c, req, status, latency_ns, protocol)
  local latency_ms = latency_ns / 1e6
  local p = process(ev)
  local record = {
    method = req.method,
    host = req.host,
    path = req.path,
    status = status,
    latency_ms = latency_ms,
    protocol = protocol,
    pid = ev.pid,
    comm = req.comm,
    exe = p.exe,
    cgroup = p.cgroup,
    container = p.container,
    tls = { sni = c.sni, alpn = c.alpn, version = c.version },
    peer = c.peer,
  }
  emit("jsonl", record)
  emit("orchestrator", { method = req.method, host = req.host, path = req.path, latency_ms = latency_ms })
  calls:inc({ method = req.method, host = req.host, status = tostring(status) })
  latency:observe(latency_ns / 1e9, { method = req.method, host = req.host })
end

-- HTTP/1.x ----------------------------------------------------------------------------

local function h1_request(ev, c)
  local method, target, host = http.request_host(ev.data)
  if not method then return end
  if c.tail - c.head + 1 >= MAX_WAITING then
    c.waiting[c.head] = nil
    c.head = c.head + 1
    dropped:inc({ reason = "queue" })
  end
  c.tail = c.tail + 1
  c.waiting[c.tail] = {
    method = method,
    host = host_of(c, host),
    path = redact.target(target),
    comm = ev.comm,
    ts = ev.ts,
  }
end

local function h1_response(ev, c)
  if c.head > c.tail then return end
  -- The kernel sent only the status line and the first headers; the status is all we need.
  local status = http.status(ev.data)
  -- 1xx responses (100 Continue) precede the final one for the same request.
  if not status or status < 200 then return end
  local req = c.waiting[c.head]
  c.waiting[c.head] = nil
  c.head = c.head + 1
  local ns = ev.latency_ns
  if not ns or ns <= 0 then ns = ev.ts - req.ts end
  report(ev, c, req, status, ns, "HTTP/1.1")
end

-- HTTP/2 -------------------------------------------------------------------------------

local function h2_blocks(ev, c, dir)
  local dec = c[dir]
  if not dec then
    dec = http2.decoder()
    c[dir] = dec
  end
  local blocks, err = dec:decode(ev.data)
  if not blocks then
    -- A lost header block leaves this direction's HPACK table unknown: start over.
    log("http2 " .. dir .. " of pid " .. ev.pid .. ": " .. tostring(err))
    dec:reset()
    return {}
  end
  return blocks
end

local function h2_write(ev, c)
  for _, b in ipairs(h2_blocks(ev, c, "send")) do
    local h = b.headers
    if b.type == "headers" and h and h[":method"] then
      c.streams[b.stream] = {
        method = h[":method"],
        host = host_of(c, h[":authority"] or h["host"]),
        path = redact.target(h[":path"] or "/"),
        comm = ev.comm,
        ts = ev.ts,
      }
    elseif b.type == "rst_stream" then
      c.streams[b.stream] = nil
    end
  end
end

local function h2_read(ev, c)
  for _, b in ipairs(h2_blocks(ev, c, "recv")) do
    local req = c.streams[b.stream]
    local status = b.headers and tonumber(b.headers[":status"])
    if b.type == "headers" and req and status and status >= 200 then
      c.streams[b.stream] = nil
      report(ev, c, req, status, ev.ts - req.ts, "HTTP/2")
    elseif b.type == "rst_stream" then
      c.streams[b.stream] = nil
    elseif b.type == "goaway" then
      c.streams = {}
    end
  end
end

-- Probes -------------------------------------------------------------------------------
-- Records carry no request headers: a policy that adds them passes them through
-- redact.headers() first (Authorization, Cookie, API keys, ... become "REDACTED").

function on_tls_write(ev)
  local c = conn_of(ev)
  if ev.proto == PROTO_HTTP2 then h2_write(ev, c) else h1_request(ev, c) end
end

local tls_versions = { [0x0301] = "TLSv1.0", [0x0302] = "TLSv1.1", [0x0303] = "TLSv1.2", [0x0304] = "TLSv1.3" }

function on_tls_read(ev)
  local c = conn_of(ev)
  if not c.version and ev.tls_version then c.version = tls_versions[ev.tls_version] end
  if ev.proto == PROTO_HTTP2 then h2_read(ev, c) else h1_response(ev, c) end
end

function on_tls_sni(ev) conn_of(ev).sni = ev.sni end

function on_tls_alpn(ev) conn_of(ev).alpn = ev.alpn end

-- GnuTLS reports gnutls_protocol_t (GNUTLS_TLS1_0 = 2 ... GNUTLS_TLS1_3 = 5), NSS the first
-- eight bytes of SSLChannelInfo (the wire version in bits 32-47).
function on_tls_version(ev)
  local wire
  if ev.gnutls_version then wire = 0x02ff + ev.gnutls_version
  elseif ev.nss_channel_info then wire = (ev.nss_channel_info >> 32) & 0xffff end
  local name = wire and tls_versions[wire]
  if name then conn_of(ev).version = name end
end

function on_tls_bind(ev)
  local c = conn_of(ev)
  -- Libraries whose SNI call is not probed (Go) name the server in the ClientHello.
  if not c.sni and ev.hello then c.sni = tls.client_hello_sni(ev.hello) end
  local ip = ip_text(ev.daddr, ev.family)
  if ip then c.peer = (ev.family == 10 and "[" .. ip .. "]" or ip) .. ":" .. ev.dport end
  c.fd = ev.fd
end

function on_tls_close(ev) forget(ev) end
