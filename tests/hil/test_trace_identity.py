"""The traceability page's build: computed from the sources the way the
virtual board's build is made, so that it names the build the board
reports in HELLO."""

from __future__ import annotations

from hil.board.build import compile_firmware
from hil.trace.identity import computed_build


def test_the_computed_build_is_the_one_the_virtual_board_runs() -> None:
    folder = compile_firmware()          # the build a virtual board starts from
    computed, how = computed_build()
    assert computed is not None, how
    # The build folder is named after the build's content hash.
    assert folder.name.endswith("-" + computed), (folder.name, computed, how)
