return "policy"
