"""The build the matrix speaks for: the firmware version and the build's
content hash, as the board reported them in HELLO (``firmware``, ``build``)
in the run's scenario records, and the same hash computed from the sources
now (:func:`hil.board.build.build_hash` for the virtual board's build:
armv6m bytecode, every module; its first 12 hex digits are the ``BUILD``
the board reports). If the two differ, the sources changed after the run."""

from __future__ import annotations

from typing import Any

# The virtual board runs the RP2040's bytecode with every module (hil/board/build.py).
VIRTUAL_MARCH = "armv6m"
BUILD_ID_DIGITS = 12


def computed_build() -> tuple[str | None, str]:
    """The virtual board's build hash from the sources now, and how it was
    computed (or why it could not be)."""
    from hil.board import build

    fn = getattr(build, "build_hash", None)
    if fn is None:
        return None, "hil.board.build has no build_hash"
    # The virtual board's build leaves out the host-only modules, as
    # compile_firmware() does: the same exclusion, or the hashes never match.
    exclude = tuple(getattr(build, "HOST_ONLY", ()))
    try:
        full = fn(VIRTUAL_MARCH, exclude)
    except (OSError, RuntimeError, ValueError) as e:   # mpy-cross missing or failing
        return None, f"build_hash failed: {e}"
    return full[:BUILD_ID_DIGITS], (f"hil.board.build.build_hash({VIRTUAL_MARCH!r}, "
                                    f"{exclude!r})[:{BUILD_ID_DIGITS}]")


def identity(hello: dict[str, Any]) -> dict[str, Any]:
    """Firmware version and build hash for the matrix's heading.

    Args:
        hello: the HELLO of a scenario record of the run ({} if none ran).
    """
    from hil.board.firmware import firmware_module

    computed, how = computed_build()
    reported = hello.get("build")
    version = hello.get("firmware") or firmware_module("version").FIRMWARE_VERSION
    return {
        "firmware_version": version,
        "build": reported or computed,
        "build_reported_by_board": reported,
        "build_computed": computed,
        "build_computed_with": how,
        "matches_sources": None if not (reported and computed) else reported == computed,
        "board": hello.get("board"),
        "implementation": hello.get("implementation"),
    }
