"""`make bench`: the benchmark harness and its parts (not part of the installed package)."""
