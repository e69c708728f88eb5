"""The rule engine and the rules folder's files: compiled once, pure."""
