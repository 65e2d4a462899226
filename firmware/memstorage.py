# Storage in RAM, for unit tests of the persistence logic and the bench's
# timing of a board's work (hil/loop/ceiling.py); state in it is lost on
# reset. A module of its own so that a board does not load it: its code
# would cost RAM (docs/firmware.md, Memory). Left out of a Pico's build.


class MemoryStorage:
    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write_atomic(self, name, data):
        self.files[name] = bytes(data)

    def write_torn(self, name, data, n):
        self.files[name + ".tmp"] = bytes(data[:n])

    def remove(self, name):
        self.files.pop(name, None)
