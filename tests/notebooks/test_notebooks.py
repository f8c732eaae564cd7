"""docs/notebooks/: every notebook executes without an error, and is committed stripped.

Each notebook runs in a fresh ipykernel (nbclient) whose working directory is a temporary
folder, so whatever it writes lands there and never in the repository; the kernel imports
this checkout (its root is put first on PYTHONPATH). A notebook gets ``NOTEBOOK_BUDGET``
seconds in all: every cell's timeout is what is left of that budget.
"""

import importlib.util
import os
import pathlib
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "docs" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NOTEBOOK_BUDGET = 150.0  # seconds per notebook (each takes well under a minute)


def load_strip_script():
    spec = importlib.util.spec_from_file_location(
        "strip_notebooks", ROOT / "scripts" / "strip_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6, [p.name for p in NOTEBOOKS]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + NOTEBOOK_BUDGET
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("MPLBACKEND", None)  # the notebooks draw inline
    before = sorted(p.name for p in NOTEBOOK_DIR.iterdir())
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout_func=lambda cell: max(1.0, deadline - time.monotonic()),
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=env)  # CellExecutionError on an error, CellTimeoutError past the budget
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors, errors
    assert sorted(p.name for p in NOTEBOOK_DIR.iterdir()) == before  # nothing written beside it
    assert any(
        o.output_type in ("display_data", "execute_result") and "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    ), "no figure drawn"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(c.outputs == [] and c.execution_count is None for c in code), path.name
    assert load_strip_script().problems(nb) == []  # the script's own check agrees


def test_strip_script_removes_outputs_and_counts(tmp_path):
    strip = load_strip_script()
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# title"),
            nbformat.v4.new_code_cell(
                "print(1)",
                execution_count=3,
                outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")],
                metadata={"execution": {"iopub.status.busy": "2026-01-01"}, "tags": ["keep"]},
            ),
        ]
    )
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, path)
    assert strip.main(["--check", str(path)]) == 1
    assert strip.main([str(path)]) == 0
    after = nbformat.read(path, as_version=4)
    assert strip.problems(after) == []
    cell = after.cells[1]
    assert cell.outputs == [] and cell.execution_count is None
    assert cell.source == "print(1)" and cell.metadata == {"tags": ["keep"]}
    assert strip.main(["--check", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert strip.main([str(path)]) == 0 and path.read_text(encoding="utf-8") == text


def test_strip_script_rejects_a_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        load_strip_script().main([str(tmp_path / "nope.ipynb")])
    assert exc.value.code == 2
    assert "no such notebook" in capsys.readouterr().err


def test_readme_lists_every_notebook():
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"({path.name})" in readme, path.name
    assert "docs/notebooks" in (ROOT / "README.md").read_text(encoding="utf-8")
