-- Redaction of secrets before anything leaves the node: header values of credential-like
-- headers and query parameters named like credentials are replaced by "REDACTED".
local redact = {}

redact.MARK = "REDACTED"

-- Headers that carry credentials whatever their value looks like.
local secret_headers = {
  ["authorization"] = true, ["proxy-authorization"] = true, ["cookie"] = true,
  ["set-cookie"] = true, ["x-api-key"] = true, ["api-key"] = true, ["apikey"] = true,
  ["x-auth-token"] = true, ["x-access-token"] = true, ["x-csrf-token"] = true,
  ["x-amz-security-token"] = true,
}

-- Name fragments that mark a header or query parameter as a secret.
local secret_words = { "token", "secret", "password", "passwd", "pwd", "apikey", "api_key",
                       "api-key", "signature", "session", "credential" }

local function classify(name)
  local n = name:lower()
  if secret_headers[n] then return true end
  for _, w in ipairs(secret_words) do
    if n:find(w, 1, true) then return true end
  end
  -- "key", "access_key", "x-goog-api-key": a word "key" of its own.
  return n == "key" or n:match("[%-_%.]key$") ~= nil or n:match("^key[%-_%.]") ~= nil
end

-- Names repeat (every request carries the same few headers): classify each once.
local known, nknown = {}, 0
local function secret_name(name)
  local v = known[name]
  if v == nil then
    v = classify(name)
    if nknown >= 4096 then known, nknown = {}, 0 end
    known[name] = v
    nknown = nknown + 1
  end
  return v
end
redact.is_secret_name = secret_name

-- A copy of a {name = value} header table with secret values replaced.
function redact.headers(headers)
  local out = {}
  for name, value in pairs(headers or {}) do
    if secret_name(name) then out[name] = redact.MARK
    elseif name == ":path" then out[name] = redact.target(value)  -- HTTP/2 carries the query here
    else out[name] = value end
  end
  return out
end

-- A request target with secret query parameter values replaced ("/a?token=x&b=1" ->
-- "/a?token=REDACTED&b=1"). Fragments and parameters without a value are kept as they are.
function redact.target(target)
  if type(target) ~= "string" or not target:find("?", 1, true) then return target end
  local path, query = target:match("^([^?]*)%?(.*)$")
  if not path then return target end
  local parts = {}
  for pair in (query .. "&"):gmatch("([^&]*)&") do
    local name, eq = pair:match("^([^=]*)(=?)")
    if eq == "=" and secret_name(name) then pair = name .. "=" .. redact.MARK end
    parts[#parts + 1] = pair
  end
  return path .. "?" .. table.concat(parts, "&")
end

return redact
