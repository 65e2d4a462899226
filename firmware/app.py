# The application: boot, restore, announce, run (or, once after
# CMD_MAINTENANCE, return to the REPL: maintenance.py). main.py calls it. On a
# Pico it runs from flash with board.json beside it; on the unix port (the
# virtual board) it takes --board PATH, --fd N (the file descriptor of the
# serial link) and --flash DIR (the board's flash); the test bench may add
# --cut-after K and --cut-file PATH (a power cut inside a storage write).

import sys

from micropython import const

_RESET_FAULT = const(2)   # codes.RESET_FAULT


def _arg(argv, name, default):
    for i in range(len(argv) - 1):
        if argv[i] == name:
            return argv[i + 1]
    return default


def _ready(stream):
    # ready(ms): does a byte arrive within ms (-1: wait for ever)? ipoll
    # reuses its result, so waiting allocates nothing.
    import select
    poller = select.poll()
    poller.register(stream, select.POLLIN)

    def ready(ms):
        for _ in poller.ipoll(ms):
            return True
        return False
    return ready


def _link(argv):
    # The serial link: --fd N on the unix port, else the USB console.
    from link import Link
    fd = _arg(argv, "--fd", None)
    if fd is not None:
        stream = open(int(fd), "r+b")
        rd = wr = stream
    else:
        import micropython
        micropython.kbd_intr(-1)  # a 0x03 byte on USB must not interrupt us
        rd = sys.stdin.buffer
        wr = sys.stdout.buffer
    # A Pico's stdin fills a whole read before it returns: one byte at a
    # time there; the pty of the virtual board returns what it holds.
    return Link(rd, wr, _ready(rd), one_byte=fd is None)


def _maintenance(argv):
    # Was maintenance asked for (CMD_MAINTENANCE)? Then, outputs already
    # safe, neither the watchdog nor the controller starts: the console goes
    # back to the REPL for mpremote, this once (maintenance.py).
    # A stat first: the module is loaded only when the flag is there, so a
    # normal boot spends no heap on it (a therapy must fit in 64 KB).
    import os
    root = _arg(argv, "--flash", "").rstrip("/")
    try:
        os.stat(root + "/maintenance.flag" if root else "maintenance.flag")
    except OSError:
        return False
    import maintenance
    from storage import FileStorage
    if not maintenance.take(FileStorage(root)):
        return False
    maintenance.enter()
    return True


def _config(argv):
    # The board config, checked against its schema, and the firmware's
    # identity (version.identity), while the heap is still nearly empty:
    # neither module is needed again, and both are let go.
    import board
    cfg = board.load(_arg(argv, "--board", "board.json"))
    sys.modules.pop("board", None)
    del board
    import version
    return cfg, version.identity(cfg)


def main(argv):
    cfg, ident = _config(argv)
    if cfg["hal"] == "rp2":
        from hal.rp2 import Rp2Board as Board
    else:
        from hal.sim import SimBoard as Board
    # Outputs to the safe state before anything else runs.
    Board.boot_safe(cfg)
    if _maintenance(argv):
        return
    import gc
    gc.collect()
    # The link's buffers are the largest blocks: take them while the heap
    # is still in one piece.
    link = _link(argv)
    # Each part is built right after its module loads, and garbage is
    # collected in between: on a small heap the order decides whether the
    # blocks fit.
    from controller import Controller
    ctl = Controller(cfg)
    gc.collect()
    from service import Service
    svc = Service(ctl, link, cfg, cfg["hal"], None, ident)
    hal = Board(ctl, link, svc, cfg, None)
    # The parsed config is no longer needed: give the RAM back.
    del cfg
    gc.collect()
    from persist import Persistence, record
    from storage import FileStorage
    storage = FileStorage(_arg(argv, "--flash", ""))
    cut = _arg(argv, "--cut-after", None)
    cut_file = _arg(argv, "--cut-file", None)
    if cut is not None or cut_file is not None:
        # Test bench only: the power fails part-way through a storage
        # write (cutstorage.py, docs/reliability.md).
        from cutstorage import CutStorage
        storage = CutStorage(storage, int(cut) if cut is not None else -1, cut_file,
                             lambda: {"tick": ctl.tick_no, "record": record(ctl)})
    persist = Persistence(storage, ctl)
    svc.persist = persist
    hal.persist = persist
    notice = persist.boot()
    svc.boot_notice = notice
    if "--heap-stats" in argv:
        svc.heap_stats = True
        svc.account_heap()
    gc.collect()
    # Frames that reached us while booting are kept: the host may have sent
    # its first request before we were up. A stale frame after a reset is
    # harmless: a STEP is refused by its tick, a command is acted on once.
    hal.announce(notice)
    try:
        hal.run()
    except OSError:
        raise
    except Exception as e:
        # A fault nobody foresaw: outputs safe first, then note it and reset,
        # so the board comes back paused in the safe state (persist.py).
        hal.make_safe()
        sys.print_exception(e)
        try:
            persist.save(True)
            persist.note_reset(_RESET_FAULT, ctl.tick_no)
        except Exception:
            pass
        hal.reset()


def start(argv):
    try:
        main(argv)
    except OSError as e:
        # The host closed the link: a clean end for a virtual board.
        print("firmware: link ended:", e)
        sys.exit(0)
