"""`python -m switchyard.cli`."""

import sys

from . import main

sys.exit(main())
