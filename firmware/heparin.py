# Heparin titration from a table of aPTT bands. Tables are data: a board
# config can carry its own (board.py checks it at boot); two are built in.
#
# Units: aPTT in 0.1 s, weight in 0.1 kg, bolus in U/kg, rates in
# 0.1 U/kg/h (per kg) and 0.1 U/h (absolute), hold in minutes.

# A row applies when the measured aPTT is below its bound (first match).
# Row: (aptt_below, bolus_u_per_kg, rate_change_per_kg, hold_min)
_OPEN = 0x3FFFFFFF

# The cartridge's own target, aPTT 60-80 s (domain.md section 3). The band
# edges follow the target; the bolus and rate steps are Raschke's steps moved
# onto this target, an assumption until a device-specific protocol is given.
# No loading bolus from the device: blood flow may start only on an aPTT in
# the target, so the loading dose must act before the circuit runs, and the
# syringe feeds a line that carries no blood until then. The nurse gives it
# IV (the scripted operator: 17 U/kg, hil/run/operator.py); the device's
# infusion starts with blood flow.
CARTRIDGE_60_80 = {
    "name": "cartridge-60-80",
    "target": (600, 800),        # aPTT 60-80 s
    "initial_bolus_u_kg": 0,
    "initial_rate": 180,         # 18 U/kg/h (Raschke starting rate)
    "recheck_min": 360,          # 6 h after every change
    "recheck_stable_min": 1440,  # daily after two in-range results in a row
    "rows": (
        (450, 80, 40, 0),        # < 45 s: 80 U/kg bolus, +4 U/kg/h
        (600, 40, 20, 0),        # 45-59 s: 40 U/kg bolus, +2 U/kg/h
        (810, 0, 0, 0),          # 60-80 s: in range, no change
        (1010, 0, -20, 0),       # 81-100 s: -2 U/kg/h
        (_OPEN, 0, -30, 60),     # > 100 s: hold 1 h, then -3 U/kg/h
    ),
}

# Raschke weight-based nomogram (Ann Intern Med 1993), target 46-70 s.
RASCHKE = {
    "name": "raschke",
    "target": (460, 700),        # aPTT 46-70 s
    "initial_bolus_u_kg": 80,
    "initial_rate": 180,
    "recheck_min": 360,
    "recheck_stable_min": 1440,
    "rows": (
        (350, 80, 40, 0),        # < 35 s
        (460, 40, 20, 0),        # 35-45 s
        (710, 0, 0, 0),          # 46-70 s
        (910, 0, -20, 0),        # 71-90 s
        (_OPEN, 0, -30, 60),     # > 90 s: hold 1 h
    ),
}

TABLES = {"cartridge-60-80": CARTRIDGE_60_80, "raschke": RASCHKE}

_MAX_RATE = 65000  # 0.1 U/h: the syringe pump's top rate, 6,500 U/h


class Anticoagulation:
    # table: one of TABLES, or a board config's own, which board.py checked
    # at boot (board.check_table: its code is not kept in RAM after boot).
    def __init__(self, table, period_ms):
        self.table = table
        self.rows = table["rows"]
        self.per_min = 60000 // period_ms
        self.weight = 0          # 0.1 kg; 0 = not entered
        self.rate = 0            # 0.1 U/h, the prescribed infusion
        self.bolus_total = 0     # U delivered as boluses since boot
        self.hold_until = -1     # tick until which the infusion is held
        self.recheck_at = -1     # tick at which an aPTT re-check is due
        self.started = False
        self.last_aptt = 0
        self.streak = 0          # in-range results in a row
        self.lo, self.hi = table["target"]

    def per_kg(self, amount):
        # amount per kg -> absolute (same unit), for the entered weight
        return amount * self.weight // 10

    def in_range(self):
        # The last entered aPTT lies in the table's target.
        return self.lo <= self.last_aptt <= self.hi

    def start(self, tick):
        # Start of anticoagulation: loading bolus and initial infusion.
        t = self.table
        bolus = self.per_kg(t["initial_bolus_u_kg"])
        self.bolus_total += bolus
        self.rate = self.per_kg(t["initial_rate"])
        self.started = True
        self.recheck_at = tick + t["recheck_min"] * self.per_min
        return bolus

    def apply_aptt(self, tick, aptt):
        # Titrate on a measured aPTT (0.1 s). Returns the row index used.
        self.last_aptt = aptt
        rows = self.rows
        i = 0
        while aptt >= rows[i][0]:
            i += 1
        _bound, bolus_kg, change, hold_min = rows[i]
        bolus = self.per_kg(bolus_kg)
        self.bolus_total += bolus
        rate = self.rate + self.per_kg(change)
        if rate < 0:
            rate = 0
        elif rate > _MAX_RATE:
            rate = _MAX_RATE
        changed = bolus > 0 or rate != self.rate or hold_min > 0
        self.rate = rate
        if hold_min:
            self.hold_until = tick + hold_min * self.per_min
        # Re-check 6 h after every change; daily after two in-range results
        # in a row (domain.md section 3).
        self.streak = self.streak + 1 if self.in_range() else 0
        if changed or self.streak < 2:
            wait = self.table["recheck_min"]
        else:
            wait = self.table["recheck_stable_min"]
        self.recheck_at = tick + wait * self.per_min
        return i

    def infusion(self, tick):
        # Rate to run now, honouring a hold.
        if tick < self.hold_until:
            return 0
        return self.rate
