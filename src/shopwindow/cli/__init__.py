"""The `shopwindow` command."""
