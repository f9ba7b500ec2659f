"""HTTP API tests, run in-process against the memory stores."""
