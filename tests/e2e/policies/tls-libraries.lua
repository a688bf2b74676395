-- Handlers for the TLS library test policies: one JSON line per TLS event, so a test can tell
-- which probe (and so which library) saw which request or status line on which connection.
-- Every tls/* pack calls the same two handlers with the same fields (conn, comm, data).

local function first_line(data)
  return string.match(data, "^[^\r\n]*")
end

local function report(direction, ev)
  emit("jsonl", {
    probe = ev.probe,
    direction = direction,
    conn = string.format("0x%x", ev.conn),
    comm = ev.comm,
    pid = ev.pid,
    line = first_line(ev.data),
  })
end

function on_tls_write(ev) report("write", ev) end
function on_tls_read(ev) report("read", ev) end
