"""Run benchmarks and append their stamped results to docs/benchmarks.md.

    python -m bench [--allow-dirty] [--dry-run] NAME [NAME ...]   (./scripts/bench NAME ...)
    python -m bench --list
    python -m bench --check      verify the record: every section stamped, none edited

Without names every benchmark runs. A tree with uncommitted changes is refused (the record must name
the code it measured) unless --allow-dirty, which records the hash of the diff instead; --dry-run
prints the sections without recording them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shlex
import sys

import bench
from bench import report

NOT_BENCHMARKS = {"report", "servers"}


def available() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules(bench.__path__)
        if not m.name.startswith("_") and m.name not in NOT_BENCHMARKS
    )


def knobs(names: list[str]) -> dict[str, str]:
    """The environment variables that tune these benchmarks (``*BENCH*`` or ``<NAME>_*``)."""
    prefixes = tuple(f"{name.upper()}_" for name in names)
    return {
        key: value for key, value in sorted(os.environ.items()) if "BENCH" in key or key.startswith(prefixes)
    }


def command_line(argv: list[str], names: list[str]) -> str:
    env = " ".join(f"{key}={shlex.quote(value)}" for key, value in knobs(names).items())
    args = " ".join(shlex.quote(arg) for arg in argv)
    return f"cd packages/backend && {env + ' ' if env else ''}uv run python -m bench {args}".rstrip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="record even with uncommitted changes; the stamp carries the hash of the diff",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the sections, do not record them")
    parser.add_argument("--list", action="store_true", help="list the benchmarks")
    parser.add_argument("--check", action="store_true", help="verify docs/benchmarks.md and exit")
    options = parser.parse_args(argv)

    if options.list:
        sys.stdout.write("\n".join(available()) + "\n")
        return 0
    if options.check:
        problems = report.check_files()
        for problem in problems:
            sys.stderr.write(f"{report.DOC.name}: {problem}\n")
        if not problems:
            sys.stdout.write(f"{report.DOC}: every section stamped and unedited\n")
        return 1 if problems else 0

    names = options.names or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
    tree = report.tree_state()
    if tree.dirty and not (options.allow_dirty or options.dry_run):
        sys.stderr.write(report.dirty_tree_message(tree) + "\n")
        return 2
    command = command_line(argv, names)
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        with report.run(name, command, allow_dirty=options.allow_dirty, dry_run=options.dry_run):
            module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
