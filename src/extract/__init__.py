"""extract: LLM-assisted claim extraction from paper dumps into DuckDB, with provenance."""

__version__ = "0.1.0"


def main() -> None:
    """Console-script entry point (kept import-light: the CLI loads on call)."""
    from extract.cli import main as cli_main

    cli_main()
