"""Tables in docs/ that are generated from the code must be current."""

import importlib.util
import pathlib

SCRIPT = pathlib.Path(__file__).parents[1] / "scripts" / "make_docs_tables.py"


def test_generated_doc_tables_are_up_to_date():
    spec = importlib.util.spec_from_file_location("make_docs_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run: python scripts/make_docs_tables.py"
