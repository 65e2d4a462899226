"""The closed loop's ceiling: how fast a virtual board consumes STEP frames
when nothing else costs anything (``make bench``, docs/benchmarks.md,
"Where a tick goes").

No plant: the samples of a batch are one healthy reading repeated, with the
measured flow equal to the pump's command (a circuit that does what it is
told), so that the board primes, starts and then runs with its outputs
unchanged; each frame carries ``max_batch`` periods and waits for its reply,
as the closed loop does. What a period costs the board is read from the
board process's own run time (``/proc/PID/schedstat``, nanoseconds on a
CPU), so a loaded machine shows in the wall time, not in that figure.
Also measured: a STATUS round trip (an empty frame out, 52 bytes back: the
pty's and the two processes' wake-ups, almost no work on either side) and
the host's frame encode and reply decode.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path
from typing import Any

from hil.transport import frames
from hil.transport.client import BoardClient
from hil.transport.link import SerialLink

P = frames.P
C = frames.C
# Access -80 mmHg, pre-cartridge 140 mmHg, return 80 mmHg (wire 0.1 mmHg).
_PRESSURES = (-800, 1400, 800)


def board_cpu_s(pid: int) -> float | None:
    """Seconds a process has run on a CPU (Linux schedstat), or None."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def _samples(pump: int, n: int) -> bytes:
    one = struct.pack("<5h", *_PRESSURES, pump, 0)
    return one * n


class TrivialLoop:
    """A board, driven with the trivial circuit above, frame after frame."""

    def __init__(self, client: BoardClient, max_batch: int = P.MAX_SAMPLES) -> None:
        self.client = client
        self.max_batch = max_batch
        self.status = client.status().status
        self.ticks = 0
        self.frames = 0

    def run(self, ticks: int) -> None:
        """Advance ``ticks`` periods (whole frames while nothing changes)."""
        end = self.status.tick + ticks
        while self.status.tick < end:
            n = min(self.max_batch, end - self.status.tick)
            reply = self.client.step(self.status.tick + 1, _samples(self.status.pump, n))
            self.ticks += reply.consumed
            self.frames += 1
            self.status = reply.status

    def command(self, code: int, arg: int = 0) -> None:
        self.status = self.client.command(code, arg).status

    def start_therapy(self) -> None:
        """Weight, priming, heparin, aPTT 70 s, blood flow: to ``running``."""
        self.command(C.CMD_SET_WEIGHT, 700)
        self.command(C.CMD_PRIME)
        while self.status.state == C.PRIMING:
            self.run(P.MAX_SAMPLES)
        self.command(C.CMD_HEPARIN_START)
        self.command(C.CMD_APTT, 700)
        self.command(C.CMD_START)
        self.run(3000)   # the pump ramps to its set point
        if self.status.state != C.RUNNING:
            raise RuntimeError(f"the board is {self.status.state_name}, not running")


def _codec_us(max_batch: int) -> dict[str, float]:
    """The host's encode of a full STEP frame and decode of its reply."""
    samples = _samples(2000, max_batch)
    reply = frames.encode(P.T_STEP | P.REPLY, 1, bytes(P.REPLY_HEAD_LEN + P.STATUS_LEN))

    def per_call(fn: Any, n: int = 2000) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e6

    parser = frames.FrameParser()
    return {
        "host_encode_us_per_frame": round(per_call(
            lambda: frames.encode(P.T_STEP, 1, frames.step_payload(1, samples))), 1),
        "host_decode_us_per_frame": round(per_call(
            lambda: frames.decode_reply(parser.feed(reply)[0].payload)), 1),
    }


# The board's own work per STEP frame, in the MicroPython VM, without the
# pty: the receiver (header check, CRC-32 of the frame), the sim HAL's STEP
# loop around the control ticks, the therapy record written after the
# frame (in RAM, and into a file as the virtual board does), the reply.
# Each figure is the least of REPS frames (a loaded machine adds, never
# takes away).
_FRAME_BENCH = """
import time, json, struct, micropython
import protocol as P
from link import Link
from controller import Controller
from service import Service
from hal.sim import SimBoard
from persist import Persistence
from memstorage import MemoryStorage
from storage import FileStorage
import codes as C
class Sink:
    def write(self, b): return len(b)
class Src:
    data = b""; pos = 0
    def readinto(self, mv):
        n = min(len(self.data) - self.pos, len(mv))
        mv[:n] = self.data[self.pos:self.pos + n]; self.pos += n
        return n
def board(storage):
    cfg = json.load(open(CFG))
    src = Src(); link = Link(src, Sink(), None); ctl = Controller(cfg)
    svc = Service(ctl, link, cfg, "sim", None); hal = SimBoard(ctl, link, svc, cfg, None)
    per = Persistence(storage, ctl); svc.persist = per; hal.persist = per; per.boot()
    ctl.command(C.CMD_SET_WEIGHT, 700); ctl.command(C.CMD_PRIME, 0)
    for _ in range(3000): ctl.tick(-800, 1400, 800, ctl.out_pump, 0)
    ctl.command(C.CMD_HEPARIN_START, 0); ctl.command(C.CMD_APTT, 700); ctl.command(C.CMD_START, 0)
    for _ in range(2000): ctl.tick(-800, 1400, 800, ctl.out_pump, 0)
    ctl.events.drop(ctl.events.count)
    return src, link, ctl, svc, hal, per
fbuf = bytearray(P.HEADER_LEN + 8 + 10 * N + 4)
for k in range(N): struct.pack_into("<5h", fbuf, 16 + 10 * k, -800, 1400, 800, 2000, 0)
res = {}
def note(k, v):
    if k not in res or v < res[k]: res[k] = v
def timed(key, fn, *args):
    t0 = time.ticks_us(); r = fn(*args); note(key, time.ticks_diff(time.ticks_us(), t0))
    return r
def ticks(ctl):
    tick = ctl.tick
    micropython.heap_lock()
    for _ in range(N): tick(-800, 1400, 800, 2000, 0)
    micropython.heap_unlock()
for name, storage in (("ram", MemoryStorage()), ("file", FileStorage(FLASH))):
    src, link, ctl, svc, hal, per = board(storage)
    for rep in range(REPS):
        struct.pack_into("<IHH", fbuf, 8, ctl.tick_no + 1, N, 0)
        P.put_header(fbuf, P.T_STEP, rep & 255, 8 + 10 * N)
        struct.pack_into("<I", fbuf, 16 + 10 * N, P.crc32(memoryview(fbuf)[:16 + 10 * N]))
        src.data = fbuf; src.pos = 0
        f = timed("recv", link.recv)
        timed("served_" + name, svc.serve, f[0], f[1], f[2], hal.step, per.save)
        timed("save_" + name, per.save, True)
        timed("reply", svc.reply, P.T_STEP | P.REPLY, 1, N)
        timed("ticks", ticks, ctl)
        ctl.events.drop(ctl.events.count)
print("FRAME_US", json.dumps(res))
"""


def firmware_frame_us(n: int = P.MAX_SAMPLES, reps: int = 200) -> dict[str, float]:
    """The board's work on one STEP frame of ``n`` periods, in the VM, by
    part (see ``_FRAME_BENCH``): microseconds per frame."""
    import json
    import subprocess
    import tempfile

    from hil.board.build import compile_firmware
    from hil.board.firmware import BOARD_CONFIGS, micropython_executable

    from hil.board.virtual import ram_dir

    build = compile_firmware()
    # The file goes where a virtual board keeps its flash (RAM where there is one).
    with tempfile.TemporaryDirectory(prefix="frame-bench-flash-", dir=ram_dir()) as flash:
        script = (f"CFG = {str(BOARD_CONFIGS / 'virtual.json')!r}\nFLASH = {flash!r}\n"
                  f"N = {n}\nREPS = {reps}\n" + _FRAME_BENCH)
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(build)]))
        out = subprocess.run([micropython_executable(), "-X", "heapsize=192K", "-c", script],
                             capture_output=True, text=True, env=env, check=True).stdout
    res = json.loads(out.split("FRAME_US", 1)[1])
    ticks = res["ticks"]
    return {
        "fw_frame_ticks_us": ticks,
        # the STEP loop around the ticks (served: loop, ticks, save, reply)
        "fw_frame_step_loop_us": res["served_ram"] - ticks - res["save_ram"] - res["reply"],
        "fw_frame_recv_us": res["recv"],
        "fw_frame_reply_us": res["reply"],
        "fw_frame_save_ram_us": res["save_ram"],
        "fw_frame_save_file_us": res["save_file"],
        # the record written into a file within the frame, as the virtual board does
        "fw_frame_save_file_in_frame_us": res["served_file"] - res["served_ram"] + res["save_ram"],
        "fw_frame_periods": n,
    }


def ceiling(seconds: float = 4.0, max_batch: int = P.MAX_SAMPLES, flash: Path | None = None,
            heapsize: str = "192K") -> dict[str, Any]:
    """The board alone over its pty (see the module docstring).

    Args:
        seconds: wall time of the timed running stretch (about).
        max_batch: periods per STEP frame.
        flash: the board's flash folder (default: a fresh temporary one).
        heapsize: MicroPython heap.
    """
    from hil.board.virtual import VirtualBoard

    with VirtualBoard("virtual", heapsize, flash=flash) as vb:
        link = SerialLink(vb.port)
        try:
            client = BoardClient(link)
            client.hello()
            loop = TrivialLoop(client, max_batch)
            loop.start_therapy()
            pid = vb.proc.pid
            rt = []
            for _ in range(200):
                t0 = time.perf_counter()
                client.status()
                rt.append(time.perf_counter() - t0)
            ticks0, frames0 = loop.ticks, loop.frames
            cpu0, host0, t0 = board_cpu_s(pid), time.process_time(), time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                loop.run(20 * max_batch)
            wall = time.perf_counter() - t0
            cpu1, host1 = board_cpu_s(pid), time.process_time()
        finally:
            link.close()
    ticks = loop.ticks - ticks0
    n_frames = loop.frames - frames0
    rt.sort()
    out: dict[str, Any] = {
        "board_alone_us_per_tick": round(wall / ticks * 1e6, 2),
        "board_alone_ticks_per_frame": round(ticks / n_frames, 1),
        "board_cpu_us_per_tick": (round((cpu1 - cpu0) / ticks * 1e6, 2)
                                  if cpu0 is not None and cpu1 is not None else None),
        "board_host_cpu_us_per_tick": round((host1 - host0) / ticks * 1e6, 2),
        "status_round_trip_us": round(rt[len(rt) // 2] * 1e6, 1),
    }
    out.update(_codec_us(max_batch))
    return out


def ceiling_figures(tick_us: float) -> dict[str, Any]:
    """``make bench``'s keys: the board alone over its pty with its flash
    where the virtual board keeps it (a temporary folder) and, where the
    machine has one, in RAM (``/dev/shm``), the efficiency of the first
    against ``tick_us`` (the most the closed loop can reach), and the
    board's work per frame by part (:func:`firmware_frame_us`)."""
    import tempfile

    out = ceiling()
    out["loop_ceiling_efficiency"] = round(tick_us / out["board_alone_us_per_tick"], 3)
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="ceiling-flash-") as flash:
            ram = ceiling(flash=Path(flash))
        out["board_alone_us_per_tick_flash_in_ram"] = ram["board_alone_us_per_tick"]
        out["board_cpu_us_per_tick_flash_in_ram"] = ram["board_cpu_us_per_tick"]
    out.update(firmware_frame_us())
    return out


__all__ = ["TrivialLoop", "board_cpu_s", "ceiling", "ceiling_figures", "firmware_frame_us"]
