"""`python -m collector` / `vantage-collector`."""

import sys

from collector.main import main

if __name__ == "__main__":
    sys.exit(main())
