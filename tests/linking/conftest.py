"""Helpers for the linking tests: the small world generator lives in ``gen.py``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
