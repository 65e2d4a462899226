"""Every calibration row (host.calibration) must pass."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from host import calibration


@functools.lru_cache(maxsize=1)
def _result() -> dict[str, Any]:
    """The calibration, computed once per test session."""
    return calibration.compute()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per calibration row, named after its quantity."""
    if "row" in metafunc.fixturenames:
        rows = _result()["rows"]
        metafunc.parametrize("row", rows, ids=[r.quantity for r in rows])


def test_row_passes(row: calibration.Row) -> None:
    assert row.low <= row.simulated <= row.high, (
        f"{row.quantity}: simulated {row.simulated:.4g} {row.unit}, published {row.published} "
        f"({row.source}), accepted [{row.low:.4g}, {row.high:.4g}]")
    assert row.passed


def test_rows_cover_every_model() -> None:
    text = " ".join(r.quantity for r in _result()["rows"])
    for word in ("IL-6", "TNF-a", "IL-10", "IL-1b", "extraction", "endotoxin", "PMMA", "Heparin", "aPTT",
                 "pressure", "circuit life", "anticoagulation"):
        assert word.lower() in text.lower(), word
    for device in ("cytosorb", "oxiris", "toraymyxin"):
        assert f"{device} endotoxin removed at 2 h" in text


def test_json_and_html_written(tmp_path: Path) -> None:
    doc = calibration.write(tmp_path, _result(), with_plots=True)
    data = json.loads((tmp_path / "calibration.json").read_text())
    assert data == json.loads(json.dumps(doc))
    assert data["all_pass"] is True
    for r in data["rows"]:
        assert set(r) >= {"quantity", "source", "published", "simulated", "tolerance", "unit", "pass"}
    page = (tmp_path / "calibration.html").read_text()
    assert page.count("<img") == 5 and page.count("<tr") == len(data["rows"]) + 1


def test_cli_exit_code_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(calibration, "compute", _result)
    assert calibration.main(["--out", str(tmp_path)]) == 0
    assert "rows pass" in capsys.readouterr().out
    assert (tmp_path / "calibration.json").exists()
