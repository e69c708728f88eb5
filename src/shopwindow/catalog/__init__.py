"""The product feed, its indexes, and what is picked from it."""
