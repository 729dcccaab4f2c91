"""Who is calling: logins, tokens, devices, and the jurisdiction a caller may see."""
