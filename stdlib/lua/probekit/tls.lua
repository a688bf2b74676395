-- TLS helpers for handlers: facts a ClientHello carries in clear.
local tls = {}

-- The server name (SNI, RFC 6066 section 3) in `data`, the first bytes a client wrote on its
-- socket, if they are a TLS record holding a ClientHello (RFC 8446 section 4.1.2); nil
-- otherwise or when the name lies beyond the captured bytes.
function tls.client_hello_sni(data)
  if type(data) ~= "string" or #data < 44 then return nil end
  -- Record: type 22 (handshake); handshake: type 1 (ClientHello).
  if data:byte(1) ~= 0x16 or data:byte(6) ~= 0x01 then return nil end
  -- After the record header (5), handshake header (4), version (2) and random (32).
  local pos = 44
  local function skip(len_bytes)
    if pos + len_bytes - 1 > #data then return false end
    local n = string.unpack(len_bytes == 1 and "B" or ">I2", data, pos)
    pos = pos + len_bytes + n
    return pos <= #data + 1
  end
  -- session id (1-byte length), cipher suites (2), compression methods (1)
  if not (skip(1) and skip(2) and skip(1)) then return nil end
  if pos + 1 > #data then return nil end
  local ext_end = pos + 2 + string.unpack(">I2", data, pos)
  pos = pos + 2
  while pos + 3 <= #data and pos < ext_end do
    local ext_type, ext_len = string.unpack(">I2>I2", data, pos)
    local body = pos + 4
    if ext_type == 0 then
      -- server_name_list: length (2), then entries of type (1: 0 = host_name), length (2), name
      local at = body + 2
      while at + 2 <= body + ext_len - 1 and at + 2 <= #data do
        local name_type, name_len = string.unpack("B>I2", data, at)
        local name = data:sub(at + 3, at + 2 + name_len)
        if name_type == 0 then return #name == name_len and name or nil end
        at = at + 3 + name_len
      end
      return nil
    end
    pos = body + ext_len
  end
  return nil
end

return tls
