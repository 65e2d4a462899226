# Test bench only (docs/reliability.md): a storage through which the power
# fails part-way through a write. The virtual board loads it when started
# with --cut-after K or --cut-file PATH (app.py); a Pico never does.

import os
import sys

POWER_LOST_EXIT = 76   # exit status if the process could not kill itself


def power_off():
    # The supply fails: the process dies at once, with no clean-up and no
    # exit handlers, as when the virtual board's power_cut() kills it.
    # (Unix port only: the test bench's CutStorage is never on a Pico.)
    try:
        os.system("kill -9 $PPID")
    except Exception:
        pass
    sys.exit(POWER_LOST_EXIT)


class CutStorage:
    # Once armed with a budget of k bytes, writes go through while they
    # fit (each costs its length, plus one for the rename); the write that
    # does not fit reaches the flash with only the bytes left of the budget
    # (0..len: none, some, or all of them, but no rename) in its temporary
    # file, as inner.write_torn leaves it; then the board dies.
    #
    # inner: the real storage (FileStorage, memstorage.MemoryStorage).
    # budget: bytes to let through before the cut; -1: not armed yet.
    # arm_path: a file (outside the flash) the bench writes a budget into
    #   to arm the cut later ("K"; or "@J": J writes go through, then all
    #   of the next one but not its rename); read, then removed, before
    #   each write while not armed.
    # report: called before dying; returns what to write to
    #   arm_path + ".report" (the bench's view of the board at the cut).
    # die: how the power fails (default: the process kills itself).

    def __init__(self, inner, budget=-1, arm_path=None, report=None, die=None):
        self.inner = inner
        self.budget = budget
        self.whole = -1     # writes to let through before one that is never renamed
        self.arm_path = arm_path
        self.report = report
        self.die = die if die is not None else power_off
        self.writes = 0     # completed writes
        self.bytes = 0      # bytes of completed writes

    def read(self, name):
        return self.inner.read(name)

    def remove(self, name):
        self.inner.remove(name)

    def _arm(self):
        try:
            with open(self.arm_path) as f:
                text = f.read().strip()
            whole = text[:1] == "@"
            k = int(text[1:] if whole else text)
        except (OSError, ValueError):
            return
        try:
            os.remove(self.arm_path)
        except OSError:
            pass
        if whole:
            self.whole = k
        else:
            self.budget = k

    def write_atomic(self, name, data):
        if self.budget < 0 and self.whole < 0 and self.arm_path:
            self._arm()
        m = len(data)
        if self.whole == 0:
            self.budget = m
        elif self.whole > 0:
            self.whole -= 1
        b = self.budget
        if b < 0 or b > m:
            self.inner.write_atomic(name, data)
            self.writes += 1
            self.bytes += m
            if b >= 0:
                self.budget = b - m - 1
            return
        # The power fails after b of the m bytes.
        self.inner.write_torn(name, data, b)
        self.budget = -1
        self.whole = -1
        if self.report is not None and self.arm_path:
            import json
            note = {"name": name, "written": b, "size": m, "writes": self.writes}
            note.update(self.report())
            with open(self.arm_path + ".report", "w") as f:
                f.write(json.dumps(note))
        self.die()
