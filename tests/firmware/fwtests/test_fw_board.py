# Board configuration checks.

import board
from check import raises, board_config


def test_shipped_configs_pass():
    for name in ("virtual", "pico"):
        board.load("board-configs/%s.json" % name)


def test_missing_key_is_named():
    cfg = board_config()
    del cfg["limits"]["delays_ms"]["air"]
    e = raises(board.ConfigError, board.check, cfg, "x.json")
    assert "x.json" in str(e) and "limits.delays_ms.air" in str(e)


def test_wrong_type_and_range_are_named():
    cfg = board_config()
    cfg["period_ms"] = "100"
    assert "period_ms must be an integer" in str(raises(board.ConfigError, board.check, cfg))
    cfg = board_config()
    cfg["limits"]["access_low_mmhg"] = 20
    assert "above" in str(raises(board.ConfigError, board.check, cfg))
    cfg = board_config()
    cfg["hal"] = "esp32"
    assert "hal must be one of" in str(raises(board.ConfigError, board.check, cfg))
    cfg = board_config(flow_default_ml_min=600)
    assert "flow_default" in str(raises(board.ConfigError, board.check, cfg))


def test_a_configs_own_anticoagulation_table_is_checked():
    import heparin
    cfg = board_config()
    cfg["anticoagulation"] = dict(heparin.RASCHKE)
    board.check(cfg, "x.json")                  # a well-formed table passes
    bad = dict(heparin.RASCHKE)
    bad["rows"] = ((500, 0, 0, 0),)
    cfg["anticoagulation"] = bad
    e = str(raises(board.ConfigError, board.check, cfg, "x.json"))
    assert "x.json" in e and "anticoagulation" in e and "open-ended" in e
    del bad["rows"]
    e = str(raises(board.ConfigError, board.check, cfg, "x.json"))
    assert "x.json" in e and "rows" in e
    cfg["anticoagulation"] = "nosuch"
    e = str(raises(board.ConfigError, board.check, cfg, "x.json"))
    assert "x.json" in e and "'nosuch'" in e and "raschke" in e
    cfg["anticoagulation"] = "raschke"
    board.check(cfg, "x.json")


def test_unreadable_and_malformed_files():
    e = raises(board.ConfigError, board.load, "board-configs/no-such-board.json")
    assert "no-such-board.json" in str(e)
    with open("out-test-bad-board.json", "w") as f:
        f.write("{ not json")
    try:
        e = raises(board.ConfigError, board.load, "out-test-bad-board.json")
        assert "not valid JSON" in str(e)
    finally:
        import os
        os.remove("out-test-bad-board.json")
