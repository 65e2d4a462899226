"""Fixtures of the emulated-Pico tests (docs/pico-emu.md).

They need Node, the emulator's npm package (``make emulator``) and the
vendor binaries in ``../shared/vendor/rp2040/``; without them every test
here is skipped with the reason, unless ``HIL_PICO_EMU_REQUIRED=1`` (``make
test`` sets it: then they run, and fail; CI must not pass by skipping them). The longer runs are
marked ``pico_emu_long`` and run only with ``HIL_PICO_EMU_LONG=1`` (``make
test-emu``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hil.board.pico_emu import BOOTROM, UF2, EmulatorError, check_installed, node_executable, vendor_file

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "pico_scenarios"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pico_emu_long: a long run on the emulated Pico (make test-emu)")
    config.addinivalue_line("markers", "no_emulator: a test of the host's side that needs no emulator")


def _missing() -> str | None:
    try:
        node_executable()
        check_installed()
        vendor_file(UF2)
        vendor_file(BOOTROM)
    except EmulatorError as e:
        return str(e)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    mine = [i for i in items if Path(str(i.fspath)).resolve().is_relative_to(here)]
    why = _missing() if mine else None
    long_ok = os.environ.get("HIL_PICO_EMU_LONG") == "1"
    for item in mine:
        if item.get_closest_marker("no_emulator"):
            continue
        if why is not None:
            if os.environ.get("HIL_PICO_EMU_REQUIRED") != "1":
                item.add_marker(pytest.mark.skip(reason=f"emulated Pico unavailable: {why}"))
        elif item.get_closest_marker("pico_emu_long") and not long_ok:
            item.add_marker(pytest.mark.skip(reason="a long run on the emulated Pico: make test-emu"))


@pytest.fixture(scope="session")
def flashed_image() -> Path:
    """The emulated Pico flashed with board-configs/pico-emu.json by make
    flash's own mpremote commands (made once, then reused)."""
    from hil.board.pico_deploy import flashed_image as make

    return make("pico-emu", log=ROOT / "out" / "pico-emu" / "deploy.log")


@pytest.fixture
def flash_copy(flashed_image: Path, tmp_path: Path) -> Path:
    """A copy of the flashed image for one test to change."""
    out = tmp_path / "flash.img"
    shutil.copyfile(flashed_image, out)
    return out


@pytest.fixture
def vendor() -> dict[str, Path]:
    return {"uf2": vendor_file(UF2), "bootrom": vendor_file(BOOTROM)}
