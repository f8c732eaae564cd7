"""Regenerate the tables in docs/ that are computed from the code.

    python scripts/make_docs_tables.py           # rewrite the tables in place
    python scripts/make_docs_tables.py --check   # exit 1 if a table is out of date

Each table sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def memory_table() -> str:
    import tinygrad_opt.optim  # noqa: F401  (registers every method)
    from tinygrad_opt.optim.memory import memory_table, to_markdown

    return to_markdown(memory_table())


def search_spaces_table() -> str:
    from tinygrad_opt.benchmark.spaces import spaces_markdown

    return spaces_markdown()


TABLES = {
    ("docs/optimizers.md", "memory-table"): memory_table,
    ("docs/benchmark.md", "search-spaces"): search_spaces_table,
}


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"markers for {name!r} not found")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    stale = []
    for (path, name), make in TABLES.items():
        file = ROOT / path
        old = file.read_text()
        new = replace_block(old, name, make())
        if new != old:
            stale.append(f"{path}:{name}")
            if not args.check:
                file.write_text(new)
    if stale:
        print(("out of date: " if args.check else "rewrote: ") + ", ".join(stale))
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
