"""`python -m extract` runs the CLI."""

from extract import main

main()
