"""Strip outputs from notebooks before committing them.

    python scripts/strip_notebooks.py                  # every docs/notebooks/*.ipynb, in place
    python scripts/strip_notebooks.py a.ipynb b.ipynb  # just these
    python scripts/strip_notebooks.py --check          # list unstripped ones, exit 1 if any

Removes every code cell's outputs and execution count and the run metadata Jupyter and
nbclient add (cell ``execution``/``collapsed``/``scrolled``, notebook ``widgets``), so
the committed notebooks hold only their sources; CI executes them
(``tests/notebooks/test_notebooks.py``). Files are rewritten atomically, and only when
something changed. Needs ``nbformat`` (the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from tinygrad_opt.atomic_io import write_atomically  # noqa: E402

NOTEBOOK_DIR = ROOT / "docs" / "notebooks"
CELL_RUN_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")
NOTEBOOK_RUN_METADATA = ("widgets",)


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """What stripping would remove, one phrase per cell (empty when already stripped)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            if cell.get("outputs"):
                found.append(f"cell {i}: {len(cell.outputs)} output(s)")
            if cell.get("execution_count") is not None:
                found.append(f"cell {i}: execution count {cell.execution_count}")
        keys = [k for k in CELL_RUN_METADATA if k in cell.get("metadata", {})]
        if keys:
            found.append(f"cell {i}: metadata {', '.join(keys)}")
    keys = [k for k in NOTEBOOK_RUN_METADATA if k in nb.metadata]
    if keys:
        found.append(f"notebook metadata {', '.join(keys)}")
    return found


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs, execution counts and run metadata, in place; return ``nb``."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in CELL_RUN_METADATA:
            cell.get("metadata", {}).pop(key, None)
    for key in NOTEBOOK_RUN_METADATA:
        nb.metadata.pop(key, None)
    return nb


def text_of(nb: nbformat.NotebookNode) -> str:
    """The notebook as it is stored (nbformat's JSON, one-space indent, final newline)."""
    return nbformat.writes(nb) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: docs/notebooks)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    missing = [p for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {missing[0]}")
    dirty = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        found = problems(nb)
        if args.check:
            if found:
                dirty += 1
                print(f"{path}: not stripped ({'; '.join(found)})")
            continue
        text = text_of(strip(nb))
        if text != path.read_text(encoding="utf-8"):
            data = text.encode("utf-8")
            write_atomically(path, lambda f, data=data: f.write(data))
            print(f"stripped {path}")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
