"""What several placements' pages are built from (cards, the client script)."""
