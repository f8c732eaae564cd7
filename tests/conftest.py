"""Test-suite set-up: the shared oracle helpers in ``tests/`` import from any sub-folder."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
