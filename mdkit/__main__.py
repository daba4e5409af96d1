import sys

from mdkit.cli import main

sys.exit(main())
