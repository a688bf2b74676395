-- HTTP/1.x helpers for handlers: parse a request or response head from captured bytes.
-- Parsing stops at the end of the head ("\r\n\r\n") or of the captured bytes, whichever is
-- first, so a head cut short by the capture limit still yields what it holds.
local http = {}

local function parse_headers(data, pos)
  local headers = {}
  while true do
    local line_end = data:find("\r\n", pos, true)
    local line = data:sub(pos, (line_end or (#data + 1)) - 1)
    if line == "" then break end
    local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
    if name then
      local key = name:lower()
      if headers[key] then headers[key] = headers[key] .. ", " .. value
      else headers[key] = value end
    end
    if not line_end then break end
    pos = line_end + 2
  end
  return headers
end

-- Returns {method, target, version, headers} or nil if `data` does not start a request.
function http.parse_request(data)
  if type(data) ~= "string" then return nil end
  local method, target, version, rest =
    data:match("^(%u[%u%-_]*) (%S+) HTTP/(%d%.%d)\r\n()")
  if not method then return nil end
  return { method = method, target = target, version = version,
           headers = parse_headers(data, rest) }
end

-- Returns {status, reason, version, headers} or nil if `data` does not start a response.
function http.parse_response(data)
  if type(data) ~= "string" then return nil end
  local version, status, reason, rest = data:match("^HTTP/(%d%.%d) (%d%d%d) ?([^\r\n]*)\r\n()")
  if not version then
    version, status = data:match("^HTTP/(%d%.%d) (%d%d%d)")
    if not version then return nil end
    return { version = version, status = tonumber(status), reason = "", headers = {} }
  end
  return { version = version, status = tonumber(status), reason = reason,
           headers = parse_headers(data, rest) }
end

-- The request line and the Host header of a request head, or nil: all an API call record needs,
-- without parsing every header.
function http.request_host(data)
  if type(data) ~= "string" then return nil end
  local method, target, rest = data:match("^(%u[%u%-_]*) (%S+) HTTP/%d%.%d\r\n()")
  if not method then return nil end
  -- Only the head: a body line that starts "Host:" is not a header.
  local stop = data:find("\r\n\r\n", rest - 2, true)
  local head = stop and data:sub(1, stop + 1) or data
  local host = head:match("^[Hh][Oo][Ss][Tt]:[ \t]*([^\r\n]-)[ \t]*\r?\n", rest)
  if not host then host = head:match("\n[Hh][Oo][Ss][Tt]:[ \t]*([^\r\n]-)[ \t]*\r?\n", rest) end
  return method, target, host
end

-- The status code of a response head, or nil: cheaper than parse_response when nothing else
-- is needed.
function http.status(data)
  if type(data) ~= "string" then return nil end
  local s = data:match("^HTTP/%d%.?%d? (%d%d%d)")
  return s and tonumber(s)
end

function http.is_request(data) return http.parse_request(data) ~= nil end
function http.is_response(data)
  return type(data) == "string" and data:match("^HTTP/%d%.%d %d%d%d") ~= nil
end

-- Splits a request target into path and query ("/a?b=1" -> "/a", "b=1").
function http.split_target(target)
  local path, query = target:match("^([^?]*)%??(.*)$")
  return path, query
end

return http
