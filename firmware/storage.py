# Non-volatile storage for the therapy record and the alarm log. Writes are
# atomic: the new content goes to a temporary file which then replaces the
# old one by rename, so a power cut leaves either the old or the new file,
# never a torn one (littlefs on the Pico, POSIX rename on the virtual board).
# Anything with read/write_atomic/remove can stand in: memstorage.py (in
# RAM, for tests), or the test bench's wrapper that cuts the power
# part-way through a write (cutstorage.py; write_torn says what such a
# cut leaves).

import os


class FileStorage:
    def __init__(self, root):
        self.root = root.rstrip("/") if root else ""
        if self.root:
            try:
                os.mkdir(self.root)
            except OSError:
                pass  # already there

    def _path(self, name):
        return self.root + "/" + name if self.root else name

    def read(self, name):
        # The file's bytes, or None if it does not exist.
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def write_atomic(self, name, data):
        path = self._path(name)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
        os.rename(tmp, path)

    def write_torn(self, name, data, n):
        # What the power leaves when it fails after the first n bytes of
        # write_atomic(name, data): those bytes in the temporary file, no
        # rename. (littlefs on a Pico may keep even less; never more.)
        with open(self._path(name) + ".tmp", "wb") as f:
            f.write(data[:n])
            f.flush()

    def remove(self, name):
        try:
            os.remove(self._path(name))
        except OSError:
            pass
