# Board configuration: load a JSON file, merge in the config it extends,
# and check it against the schema below, failing with a message that names
# the file, the key and the fault.
#
# "extends": "pico" makes a file a variant of board-configs/pico.json: the
# base is read from the same folder (the host may look further, see
# hil/board/firmware.py), its own "extends" followed in turn, and the
# variant merged over it: objects key by key, any other value replaced.
# A flashed Pico gets the merged file; this resolution serves the virtual
# board and the tests, which read board-configs/ as it is.

import json

# (dotted key, type, min, max); min/max None for no bound.
SCHEMA = (
    ("name", str, None, None),
    ("hal", str, None, None),
    ("period_ms", int, 10, 1000),
    # Link supervision on boards that keep their own time (rp2 HAL): host
    # silence this long raises host_link_lost; 0 turns it off. Above the
    # host's 5 s reply timeout, so one lost reply does not raise it.
    ("link_timeout_s", int, 0, 600),
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
    ("limits.delays_ms.sensor_loss", int, 0, 10000),
    # cartridge_exchange_due turns high after this long unconfirmed: at most 10 min.
    ("limits.delays_ms.exchange_escalate", int, 0, 600000),
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

# Per MCU: the architecture mpy-cross compiles for, the watchdog's longest
# timeout (domain.md section 6) and the GPIO numbers there are.
MCUS = {
    "unix": ("x64", 16777, 0),
    "rp2040": ("armv6m", 8388, 30),
    "rp2350": ("armv7emsp", 16777, 30),
}

# Only for boards with the rp2 HAL.
RP2_SCHEMA = (
    ("pins.p_access_adc", int, 26, 29),
    ("pins.p_pre_adc", int, 26, 29),
    ("pins.p_return_adc", int, 26, 29),
    ("pins.air_detect", int, 0, 29),
    ("pins.flow_pulse", int, 0, 29),
    ("pins.pump_pwm", int, 0, 29),
    ("pins.heparin_step", int, 0, 29),
    ("pins.heparin_enable", int, 0, 29),
    ("pins.clamp_open", int, 0, 29),
    ("calibration.pressure.den", int, 1, None),
    ("calibration.air_active_level", int, 0, 1),
    ("calibration.pump_pwm_hz", int, 100, 100000),
    ("calibration.heparin_steps_per_u", int, 1, 10000),
    ("calibration.flow_per_pulse_rate", int, 1, 10000),
)

# GPIOs the Pico W's radio uses (CYW43439): not for the application.
PICO_W_RESERVED = (23, 24, 25, 29)


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


def _check_keys(cfg, schema, where):
    for key, typ, lo, hi in schema:
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


def check(cfg, where="board config"):
    # Raises ConfigError on the first problem found.
    if not isinstance(cfg, dict):
        raise ConfigError("%s: the top level must be an object" % where)
    _check_keys(cfg, SCHEMA, where)
    if cfg["hal"] not in HALS:
        raise ConfigError("%s: hal must be one of %s, not %r" % (where, ", ".join(HALS), cfg["hal"]))
    if 1000 % cfg["period_ms"]:
        raise ConfigError("%s: period_ms must divide 1000" % where)
    th = cfg["therapy"]
    if not th["flow_min_ml_min"] <= th["flow_default_ml_min"] <= th["flow_max_ml_min"]:
        raise ConfigError("%s: therapy.flow_default_ml_min must lie between flow_min and flow_max" % where)
    mcu = cfg.get("mcu", "unix")
    if mcu not in MCUS:
        raise ConfigError("%s: mcu must be one of %s, not %r" % (where, ", ".join(sorted(MCUS)), mcu))
    march, wdt_max, _gpios = MCUS[mcu]
    if cfg.get("march", march) != march:
        raise ConfigError("%s: march for %s is %s, not %r" % (where, mcu, march, cfg["march"]))
    wdt = cfg.get("watchdog_ms", 0)
    if isinstance(wdt, bool) or not isinstance(wdt, int) or not 0 <= wdt <= wdt_max:
        raise ConfigError("%s: watchdog_ms must be an integer 0..%d on %s, not %r"
                          % (where, wdt_max, mcu, wdt))
    if not isinstance(cfg.get("test_mode", False), bool):
        raise ConfigError("%s: test_mode must be true or false" % where)
    if cfg["hal"] == "rp2":
        if mcu == "unix":
            raise ConfigError("%s: the rp2 HAL needs mcu rp2040 or rp2350" % where)
        _check_keys(cfg, RP2_SCHEMA, where)
        for k in ("access", "pre", "return"):
            v = _get(cfg, "calibration.pressure." + k)
            if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v)):
                raise ConfigError("%s: calibration.pressure.%s must be [offset, gain]" % (where, k))
        pins = [v for v in cfg["pins"].values()]
        for p in pins:
            if pins.count(p) > 1:
                raise ConfigError("%s: pin %d is used twice" % (where, p))
        if cfg.get("wireless"):
            for p in pins:
                if p in PICO_W_RESERVED:
                    raise ConfigError("%s: pin %d is taken by the Pico W's radio" % (where, p))
    table = cfg.get("anticoagulation", "cartridge-60-80")
    if not isinstance(table, (str, dict)):
        raise ConfigError("%s: anticoagulation must name a table or be one" % where)
    if isinstance(table, str) and table not in TABLE_NAMES:
        raise ConfigError("%s: anticoagulation names no built-in table: %r (there are %s)"
                          % (where, table, ", ".join(TABLE_NAMES)))
    elif isinstance(table, dict):
        try:
            check_table(table)
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise ConfigError("%s: anticoagulation table: %s" % (where, e))
    return cfg


# heparin.TABLES' names, and heparin._OPEN, the bound of an open-ended
# last row (the tests check both against heparin.py, which this module
# does not import: the host reads it on its own).
TABLE_NAMES = ("cartridge-60-80", "raschke")
_OPEN_BOUND = 0x3FFFFFFF


def check_table(t):
    # An anticoagulation table (heparin.py's format): raises ValueError
    # naming what is wrong with it. Here rather than in heparin.py, which
    # stays in RAM while the board runs: this module is let go after boot.
    rows = t["rows"]
    if not rows:
        raise ValueError("no rows")
    last = -1
    for i, row in enumerate(rows):
        if len(row) != 4:
            raise ValueError("row %d must have 4 fields" % i)
        if row[0] <= last:
            raise ValueError("row %d: aPTT bounds must increase" % i)
        if row[1] < 0 or row[3] < 0:
            raise ValueError("row %d: bolus and hold must not be negative" % i)
        last = row[0]
    if last != _OPEN_BOUND:
        raise ValueError("the last row must be open-ended")
    for key in ("initial_bolus_u_kg", "initial_rate", "recheck_min", "recheck_stable_min"):
        if key not in t:
            raise ValueError("missing " + key)
        if t[key] < 0:
            raise ValueError(key + " must not be negative")
    lo, hi = t["target"]
    if not 0 < lo < hi:
        raise ValueError("target must be (low, high) with 0 < low < high")


# Longest chain of "extends" followed before giving up.
MAX_EXTENDS = 8


def _read(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("%s: cannot read (%s)" % (path, e))
    try:
        cfg = json.loads(text)
    except ValueError as e:
        raise ConfigError("%s: not valid JSON (%s)" % (path, e))
    if not isinstance(cfg, dict):
        raise ConfigError("%s: the top level must be an object" % path)
    return cfg


def beside(path, name):
    # The file of the board config called name in the folder of path.
    i = path.rfind("/")
    return (path[:i + 1] if i >= 0 else "") + name + ".json"


def find_beside(path, name):
    # The base config name next to path, if there is one.
    f = beside(path, name)
    try:
        open(f).close()
    except OSError:
        return None
    return f


def merge(base, over, where, prefix=""):
    # over merged onto base: objects key by key, anything else replaced.
    out = dict(base)
    for k, v in over.items():
        if k in base and isinstance(base[k], dict) != isinstance(v, dict):
            what = "be an object" if isinstance(base[k], dict) else "not be an object"
            raise ConfigError("%s: %s%s must %s, as in the config it extends" % (where, prefix, k, what))
        out[k] = merge(base[k], v, where, prefix + k + ".") if isinstance(v, dict) and k in base else v
    return out


def resolve(path, find=find_beside):
    # The config in path with the chain of configs it extends merged in:
    # find(path, name) gives the file of the base name (None: there is none).
    chain = [path]
    cfgs = [_read(path)]
    while "extends" in cfgs[-1]:
        where, name = chain[-1], cfgs[-1]["extends"]
        if not isinstance(name, str) or not name or "/" in name or name.endswith(".json"):
            raise ConfigError("%s: extends must name a board config, like \"pico\", not %r" % (where, name))
        nxt = find(where, name)
        if nxt is None:
            raise ConfigError("%s: extends: no board config %r (looked for %s)"
                              % (where, name, beside(where, name)))
        if nxt in chain:
            raise ConfigError("%s: extends: a cycle, %s" % (where, " -> ".join(chain + [nxt])))
        if len(chain) > MAX_EXTENDS:
            raise ConfigError("%s: extends: more than %d configs in the chain" % (chain[0], MAX_EXTENDS))
        chain.append(nxt)
        cfgs.append(_read(nxt))
    cfg = cfgs.pop()
    while cfgs:
        over = cfgs.pop()
        cfg = merge(cfg, over, chain[len(cfgs)])
    cfg.pop("extends", None)
    return cfg


def load(path, find=find_beside):
    return check(resolve(path, find), path)
