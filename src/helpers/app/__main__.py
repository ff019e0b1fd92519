import sys

from helpers.app import main

sys.exit(main())
