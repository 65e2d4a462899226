"""The firmware's tests import its modules by bare name, as on the board."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT / "firmware", Path(__file__).parent / "fwtests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
