"""`python -m ctx_assets.cli`."""

import sys

from ctx_assets.cli import main

sys.exit(main())
