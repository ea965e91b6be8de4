"""``python -m molprior`` runs the command-line interface."""

import sys

from molprior.cli.main import main

sys.exit(main())
