"""``python -m tinygrad_opt.cli``: the ``tinygrad-opt`` command."""

import sys

from tinygrad_opt.cli import main

sys.exit(main())
