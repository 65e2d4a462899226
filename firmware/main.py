# Entry point, kept tiny: a script is compiled in RAM at boot, a module
# copied as .mpy is not. Everything else is in app.py. When app.start
# returns (maintenance mode), MicroPython goes on to its REPL.
import sys

import app

app.start(sys.argv)
