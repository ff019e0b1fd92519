"""``python -m helpers.songs``: generate the course's data set (``make data``)."""

import sys

from helpers.songs.dataset import main

sys.exit(main())
