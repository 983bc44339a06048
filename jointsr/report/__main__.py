import sys

from jointsr.report.cli import main

sys.exit(main())
