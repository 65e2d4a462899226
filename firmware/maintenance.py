# The maintenance path (CMD_MAINTENANCE, docs/protocol.md): a Pico running
# the controller has Ctrl-C switched off (binary frames carry 0x03) and a
# watchdog that cannot be stopped, so mpremote cannot take it over. The host
# asks for maintenance; in idle the board stores a one-shot flag, answers
# and resets. At the next boot app.py, right after the outputs are made
# safe and before the watchdog or the controller start, takes the flag,
# switches Ctrl-C back on and returns to the REPL. The boot after that runs
# the controller again.

import sys

from micropython import const

import protocol as P

# The codes (codes.py) this module uses, as private constants (docs/firmware.md, Memory).
_CMD_MAINTENANCE = const(18)
_IDLE = const(0)   # the one state it is accepted in

FLAG = "maintenance.flag"   # in the board's flash, beside therapy.json
BANNER = "firmware: maintenance mode: the controller is not running; Ctrl-C works; reset to run it"

# Its results
_OK = const(0)
_E_STATE = const(1)
_E_CONDITION = const(4)
_E_UNSUPPORTED = const(6)


def request(svc, platform=None):
    # Act on CMD_MAINTENANCE for the Service svc and return its result:
    # E_STATE unless idle (never during a therapy), E_UNSUPPORTED off a Pico
    # (the virtual board has no REPL to return to), E_CONDITION if the flag
    # could not be stored, else OK with the flag stored for the next boot.
    if svc.ctl.state != _IDLE:
        return _E_STATE
    if (sys.platform if platform is None else platform) != "rp2":
        return _E_UNSUPPORTED
    persist = svc.persist
    if persist is None:
        return _E_CONDITION
    try:
        persist.storage.write_atomic(FLAG, b"1")
    except OSError:
        return _E_CONDITION
    return _OK


def handle(svc, seq, platform=None, reset=None):
    # The whole command, from Service.handle(): act, answer with the status
    # block, then (accepted) reset. The flag is stored before the answer, so
    # an OK the host sees always means the next boot is in maintenance.
    result = request(svc, platform)
    svc.reply(P.T_CMD | P.REPLY, seq, _CMD_MAINTENANCE | (result << 8))
    if result == _OK:
        (reset or restart)()
    return result


def restart():
    # After the reply went out: let USB send it, then reset the chip.
    import machine
    import time
    time.sleep_ms(100)
    machine.reset()


def take(storage):
    # At boot: was maintenance asked for? The flag is removed first, so it
    # acts on one boot only, even if this boot fails.
    if storage.read(FLAG) is None:
        return False
    storage.remove(FLAG)
    return True


def enter():
    # Give the console back: Ctrl-C on, one line, and the caller returns to
    # the REPL (mpremote can now run).
    import micropython
    micropython.kbd_intr(3)
    print(BANNER)
