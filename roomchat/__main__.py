"""``python -m roomchat``."""

import sys

from .cli import main

sys.exit(main())
