"""A board's identity: one build path per board (``make compile BOARD=...``
builds what ``make flash`` copies), named by its content hash, which the
board reports in HELLO ``build``; and the digest of its config in HELLO
``config``, computed by the firmware in the MicroPython VM exactly as the
host computes it for every shipped config."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from hil.board.build import build_for_board
from hil.board.firmware import (BOARD_CONFIGS, FIRMWARE_DIR, ROOT, config_digest, load_board_config,
                                micropython_executable, shipped_config_of, write_resolved_config)
from hil.board.flash import plan
from hil.board.virtual import VirtualBoard
from hil.transport.client import BoardClient
from hil.transport.link import SerialLink


def test_the_firmware_and_the_host_agree_on_every_config_digest(tmp_path: Path) -> None:
    boards = sorted(p.stem for p in BOARD_CONFIGS.glob("*.json"))
    files = [write_resolved_config(b, tmp_path / b) for b in boards]
    script = ("import json, sys, version\n"
              "for f in sys.argv[1:]:\n"
              "    print(version.config_digest(json.load(open(f))))\n")
    path = os.pathsep.join([".frozen", str(FIRMWARE_DIR), str(ROOT / "hil" / "fakepico")])
    proc = subprocess.run([micropython_executable(), "-c", script, *map(str, files)], capture_output=True,
                          text=True, env=dict(os.environ, MICROPYPATH=path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    on_board = proc.stdout.split()
    assert on_board == [config_digest(b) for b in boards]
    assert len(set(on_board)) == len(boards)             # every config its own
    assert [shipped_config_of(d) for d in on_board] == boards


def test_compile_and_flash_share_one_build_per_board() -> None:
    pico, pico2 = build_for_board("pico"), build_for_board("pico2")
    assert "-armv6m-" in pico.name and "-armv7emsp-" in pico2.name and pico != pico2
    for build in (pico, pico2):
        names = {p.name for p in build.rglob("*") if p.is_file()}
        assert "main.py" in names and "main.mpy" not in names        # the entry script stays source
        assert "build_id.mpy" in names and "service.mpy" in names
        assert not names & {"names.mpy", "names.py", "cutstorage.mpy", "memstorage.mpy"}   # host and bench only
    copied = plan("/dev/ttyACM0", "pico2")[1]
    assert any(a.startswith(str(pico2)) for a in copied)
    proc = subprocess.run(["make", "-s", "-C", str(ROOT), "compile", "BOARD=pico2"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "armv7emsp" in proc.stdout
    out = {p.relative_to(ROOT / "out" / "mpy") for p in (ROOT / "out" / "mpy").rglob("*") if p.is_file()}
    assert out == {p.relative_to(pico2) for p in pico2.rglob("*") if p.is_file()}


def test_the_virtual_board_reports_its_build_and_config() -> None:
    with VirtualBoard("virtual") as vb:
        link = SerialLink(vb.port)
        try:
            hello = BoardClient(link).hello()
        finally:
            link.close()
        assert vb.firmware_dir.name.endswith("-" + hello["build"])
    assert hello["config"] == config_digest("virtual")
    cfg = load_board_config("virtual")
    th = cfg["therapy"]
    assert hello["settings"] == {"anticoagulation": cfg["anticoagulation"],
                                 **{k: th[k] for k in ("cartridge_hours", "max_cartridges",
                                                       "flow_min_ml_min", "flow_max_ml_min")}}
    assert hello["micropython"].startswith("MicroPython ") and hello["machine"]
    assert json.loads(json.dumps(hello)) == hello
