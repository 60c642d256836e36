"""`python -m tv_server.cli`: the `legaltv` command."""

import sys

from tv_server.cli import main

sys.exit(main())
