return {
  policy = { name = "x" }
  probe = {},
}
