"""`lakepipe` command line: one sub-command per module, each registering its own parser."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from lakepipe_cli import backfill, demo, invoke_files, quarantine, query, redrive

Registration = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakepipe",
        description="lakepipe developer CLI: run the pipeline locally, query the local lake, backfill weather.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Sub-command modules import their heavy dependencies (Spark, DuckDB, moto) only when they run.
    for register in _registrations():
        register(subcommands)
    return parser


def _registrations() -> list[Registration]:
    return [
        demo.register,
        query.register,
        backfill.register,
        invoke_files.register,
        redrive.register,
        quarantine.register,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
