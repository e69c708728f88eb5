"""`python -m shopwindow`: the same as the `shopwindow` command."""

from shopwindow.cli import main

main()
