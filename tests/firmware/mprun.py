# Runs the test_* functions of one test module inside the MicroPython VM.
# Usage: micropython mprun.py MODULE

import sys

name = sys.argv[1]
mod = __import__(name)
passed = 0
failed = 0
for key in sorted(dir(mod)):
    if not key.startswith("test_"):
        continue
    try:
        getattr(mod, key)()
        passed += 1
        print("PASS", key)
    except Exception as e:
        failed += 1
        print("FAIL", key)
        sys.print_exception(e)
print("RESULT", passed, failed)
sys.exit(1 if failed else 0)
