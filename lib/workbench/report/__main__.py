"""``python -m workbench.report``: run the report's command line (:mod:`workbench.report.cli`)."""
import sys

from .cli import main

sys.exit(main())
