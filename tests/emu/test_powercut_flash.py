"""Power cuts inside the firmware's flash writes: the emulated chip stops at
the virtual time of the cut, inside a littlefs erase or program if one is
under way, and the flash keeps only what was written by then. The board
must always boot again, with its record either as it was or as the
command made it, never torn (firmware/storage.py, on MicroPython's littlefs)."""

from __future__ import annotations

import shutil
from pathlib import Path

from hil.board.pico_boards import PicoEmuBoard
from hil.board.pico_emu import NS
from hil.transport import frames
from hil.transport.client import BoardClient

C = frames.C
P = frames.P
OLD, NEW = 700, 812          # weights, 0.1 kg


def _board(image: Path, tmp: Path, name: str) -> PicoEmuBoard:
    own = tmp / name
    shutil.copyfile(image, own)
    board = PicoEmuBoard(own, "pico-emu").start()
    client = BoardClient(board.connect(), timeout_s=5.0)
    client.hello()
    assert client.command(C.CMD_SET_WEIGHT, OLD).result == C.OK
    board.emulator.run(board.emulator.t_ns + NS // 2)
    return board


def _weight_after_boot(board: PicoEmuBoard) -> tuple[int, dict]:
    board.emulator.take()
    board.emulator.power(True)
    client = BoardClient(board.connect(), timeout_s=5.0)
    notice = client.wait_boot(timeout_s=30.0)
    return client.status().status.weight, notice


def test_cuts_inside_a_flash_write_leave_the_old_or_the_new_record(flash_copy: Path, tmp_path: Path) -> None:
    cmd = frames.encode(P.T_CMD, 9, frames.cmd_payload(C.CMD_SET_WEIGHT, NEW))
    # A dry run: when the command is sent, when its reply (after the write)
    # comes, and, in steps of 50 us, when the flash is erased or programmed
    # (the emulator jumps its clock over each operation).
    board = _board(flash_copy, tmp_path, "dry.img")
    ops: list[int] = []            # the middle of each flash operation, ns
    try:
        emu = board.emulator
        t_send = emu.t_ns
        before = emu.info()["stats"]
        emu.send(cmd)
        done = before["flashPrograms"] + before["flashErases"]
        while not emu.rx:
            t0 = emu.t_ns
            emu.run(t0 + NS // 20000, stop_bytes=1)
            st = emu.info()["stats"]
            if st["flashPrograms"] + st["flashErases"] > done:
                done = st["flashPrograms"] + st["flashErases"]
                ops.append(emu.t_ns - NS // 5000)       # 0.2 ms before it ended
        t_reply = emu.t_ns
        after = emu.info()["stats"]
    finally:
        board.stop()
    assert after["flashPrograms"] > before["flashPrograms"]      # the command was written to flash
    assert ops, "no flash operation seen in the dry run"
    # Cuts spread over the write (littlefs programs, and erases if it needs a
    # block, for some 40-200 ms), two inside its first and last flash
    # operations, and one half a millisecond before the reply.
    cuts = sorted({t_send + (t_reply - t_send) * k // 6 for k in range(1, 6)} | {ops[0], ops[-1]}
                  | {t_reply - NS // 2000})
    seen: list[int] = []
    in_op = 0
    for k, t_cut in enumerate(cuts):
        board = _board(flash_copy, tmp_path, f"cut{k}.img")
        try:
            emu = board.emulator
            assert emu.t_ns == t_send        # the same run, to the nanosecond
            emu.send(cmd)
            why = emu.cut_at(t_cut)["why"]
            in_op += why == "cut_in_flash_op"
            weight, notice = _weight_after_boot(board)
        finally:
            board.stop()
        where = f"cut {(t_cut - t_send) / 1e6:.1f} ms after the command"
        assert weight in (OLD, NEW), f"{where}: weight {weight}"
        assert notice["cause"] == 0, where
        seen.append(weight)
    # Before the record was replaced the old one, after it the new one; some
    # cuts inside a flash erase or program.
    assert seen[0] == OLD and seen[-1] == NEW, seen
    assert seen == sorted(seen), seen
    assert in_op >= 1
