return {
  policy = { name = "full", description = "all sections" },
  target = { ssl = { library = "libssl.so.3", process = { comm = { "curl" } } } },
  probe = {
    w = { target = "ssl", uprobe = "SSL_write", signature = "int SSL_write(SSL *s, const void *buf, int num)",
          capture = { { name = "data", value = "buf", type = "bytes", len = "num", max = 512 } },
          match = "http1", filter = { "num > 0", 'comm == "curl"' } },
  },
  metric = { writes_total = { kind = "counter", probe = "w", labels = { comm = "comm" } } },
  sinks = { jsonl = { path = "-" } },
  runtime = { ring_buffer = "4MiB" },
}
