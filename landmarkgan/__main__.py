import sys

from landmarkgan.cli import main

sys.exit(main())
