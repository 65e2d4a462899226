"""The firmware's tests import its modules by bare name, as on the board."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT / "firmware", Path(__file__).parent / "fwtests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
# The one stand-in machine module (hil/fakepico), as in the MicroPython VM
# (test_in_micropython.py); last, so that it never shadows anything else.
_fake = str(ROOT / "hil" / "fakepico")
if _fake not in sys.path:
    sys.path.append(_fake)
