# Atomic writes in files: a cut between the temporary write and the rename
# leaves the old content.

import os

from storage import FileStorage

# The requirements (requirements/*.yaml) these tests verify; a dict, not a pytest
# marker, because the module runs in the MicroPython VM too (hil/trace/pytest_plugin.py).
VERIFIES = {
    "test_cut_before_rename_keeps_the_old_content": ("SR-PERS-1",),
}

DIR = "out-test-flash"


def _clean():
    for name in ("a", "a.tmp"):
        try:
            os.remove(DIR + "/" + name)
        except OSError:
            pass
    try:
        os.rmdir(DIR)
    except OSError:
        pass


def test_write_read_replace_remove():
    _clean()
    try:
        s = FileStorage(DIR)
        assert s.read("a") is None
        s.write_atomic("a", b"one")
        s.write_atomic("a", b"two")
        assert s.read("a") == b"two"
        assert "a.tmp" not in os.listdir(DIR)
        s.remove("a")
        assert s.read("a") is None
    finally:
        _clean()


def test_cut_before_rename_keeps_the_old_content():
    _clean()
    try:
        s = FileStorage(DIR)
        s.write_atomic("a", b"old")
        with open(DIR + "/a.tmp", "wb") as f:   # the power went mid-write
            f.write(b"ne")
        assert s.read("a") == b"old"
        s.write_atomic("a", b"new")             # the next write replaces it
        assert s.read("a") == b"new"
    finally:
        _clean()
