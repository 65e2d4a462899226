# Board configuration: load a JSON file and check it against the schema
# below, failing with a message that names the file, the key and the fault.

import json

# (dotted key, type, min, max); min/max None for no bound.
SCHEMA = (
    ("name", str, None, None),
    ("hal", str, None, None),
    ("period_ms", int, 10, 1000),
    ("limits.access_low_mmhg", int, -500, 0),
    ("limits.return_high_mmhg", int, 0, 600),
    ("limits.return_low_mmhg", int, -100, 200),
    ("limits.pre_high_mmhg", int, 0, 800),
    ("limits.no_flow_ml_min", int, 0, 200),
    ("limits.flow_low_pct", int, 1, 100),
    ("limits.clot_drop_rise_mmhg", int, 1, 500),
    ("limits.clot_settle_s", int, 0, 3600),
    ("limits.clot_baseline_s", int, 1, 3600),
    ("limits.delays_ms.air", int, 0, 1000),
    ("limits.delays_ms.access_low", int, 0, 60000),
    ("limits.delays_ms.return_high", int, 0, 60000),
    ("limits.delays_ms.return_low", int, 0, 60000),
    ("limits.delays_ms.pre_high", int, 0, 60000),
    ("limits.delays_ms.no_flow", int, 0, 600000),
    ("limits.delays_ms.flow_low", int, 0, 600000),
    ("limits.delays_ms.clot", int, 0, 600000),
    ("limits.delays_ms.stasis", int, 0, 600000),
    ("therapy.flow_min_ml_min", int, 10, 1000),
    ("therapy.flow_max_ml_min", int, 10, 1000),
    ("therapy.flow_default_ml_min", int, 10, 1000),
    ("therapy.ramp_ml_min_per_s", int, 1, 1000),
    ("therapy.prime_flow_ml_min", int, 10, 1000),
    ("therapy.prime_volume_ml", int, 1, 5000),
    ("therapy.flowing_ml_min", int, 1, 500),
    ("therapy.cartridge_hours", int, 1, 72),
    ("therapy.max_cartridges", int, 1, 30),
    ("therapy.audio_pause_s", int, 0, 600),
)

HALS = ("sim", "rp2")


class ConfigError(ValueError):
    pass


def _get(cfg, key):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def check(cfg, where="board config"):
    # Raises ConfigError on the first problem found.
    if not isinstance(cfg, dict):
        raise ConfigError("%s: the top level must be an object" % where)
    for key, typ, lo, hi in SCHEMA:
        v = _get(cfg, key)
        if v is _MISSING:
            raise ConfigError("%s: missing key %s" % (where, key))
        if typ is int and (isinstance(v, bool) or not isinstance(v, int)):
            raise ConfigError("%s: %s must be an integer, not %r" % (where, key, v))
        if typ is str and not isinstance(v, str):
            raise ConfigError("%s: %s must be a string, not %r" % (where, key, v))
        if lo is not None and v < lo:
            raise ConfigError("%s: %s = %r is below %r" % (where, key, v, lo))
        if hi is not None and v > hi:
            raise ConfigError("%s: %s = %r is above %r" % (where, key, v, hi))
    if cfg["hal"] not in HALS:
        raise ConfigError("%s: hal must be one of %s, not %r" % (where, ", ".join(HALS), cfg["hal"]))
    if 1000 % cfg["period_ms"]:
        raise ConfigError("%s: period_ms must divide 1000" % where)
    th = cfg["therapy"]
    if not th["flow_min_ml_min"] <= th["flow_default_ml_min"] <= th["flow_max_ml_min"]:
        raise ConfigError("%s: therapy.flow_default_ml_min must lie between flow_min and flow_max" % where)
    return cfg


def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("%s: cannot read (%s)" % (path, e))
    try:
        cfg = json.loads(text)
    except ValueError as e:
        raise ConfigError("%s: not valid JSON (%s)" % (path, e))
    return check(cfg, path)
