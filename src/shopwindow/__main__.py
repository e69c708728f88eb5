"""`python -m shopwindow`: the same as the `shopwindow` command."""

from shopwindow.cli.main import main

main()
