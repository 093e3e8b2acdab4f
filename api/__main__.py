"""`python -m api` is the `billsync` command."""

from api.cli import main

main()
