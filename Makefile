# Everyday targets. Each creates or reuses the virtual environment in .venv.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The emulated Pico (docs/pico-emu.md): rp2040js from npm, pinned by emulator/package-lock.json.
EMU_STAMP := emulator/node_modules/.installed-stamp
PORT ?=
BOARD ?= pico

.PHONY: emulator test-emu help venv demo test trace bench calibrate cohort flash compile board clean fuzz powercut linkfault reliability trial campaign live

help:
	@echo "make demo     48 h closed-loop therapy on the virtual Pico; report in out/demo/"
	@echo "make test     the test suite (firmware on CPython and in the MicroPython VM, plant, closed loop)"
	@echo "make trace    requirements traceability of the last make test; out/trace/matrix.json, .html"
	@echo "             (TRACE_STRICT=1: fail if a safety-critical requirement has no passing test)"
	@echo "make bench    speed and memory figures; out/bench/bench.json"
	@echo "make calibrate  each plant model against each published figure; out/calibration.json and .html"
	@echo "make cohort   a virtual cohort, treated vs untreated; out/cohort/"
	@echo "make trial    virtual trial: 16 patients x 48 h, anticoagulation table vs none, firmware in the loop; out/trial/"
	@echo "make campaign [SPEC=campaigns/default.yaml] [SCHEDULER=tcp://HOST:PORT]  a campaign on Dask; out/campaign/"
	@echo "make live [SPEED=1] [PORT=/dev/ttyACM0]  a therapy live with its dashboard on http://127.0.0.1:8765"
	@echo "make board    start a virtual board and print its serial port"
	@echo "make flash PORT=/dev/ttyACM0 [BOARD=pico]   copy the firmware to a real Pico with mpremote"
	@echo "make emulator  install the emulated Pico (rp2040js, npm ci); 'hil board --board pico-emu' runs it"
	@echo "make test-emu  the longer runs on the emulated Pico (library scenarios with the scripted operator, ~25 min)"
	@echo "make compile [BOARD=pico]  the build make flash copies, for the board's CPU; out/mpy/"
	@echo "make fuzz     100,000+ hostile inputs against the firmware on the virtual board; out/fuzz/fuzz.json"
	@echo "make powercut 200+ power cuts, many inside a storage write; out/powercut/powercut.json"
	@echo "make linkfault 1,000+ short runs with a faulty link; out/linkfault/linkfault.json"
	@echo "make reliability  the three campaigns above"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m hil demo --out out/demo

$(EMU_STAMP): emulator/package.json emulator/package-lock.json
	npm ci --prefix emulator --no-audit --no-fund --loglevel=error
	touch $(EMU_STAMP)

emulator: $(EMU_STAMP)

test-emu: $(STAMP) $(EMU_STAMP)
	HIL_PICO_EMU_LONG=1 $(PY) -m pytest tests/emu -m pico_emu_long

test: $(STAMP) $(EMU_STAMP)
	HIL_PICO_EMU_REQUIRED=1 $(PY) -m pytest

# Reads the JUnit XML and scenario records that make test leaves in out/ (docs/requirements.md).
trace: $(STAMP)
	$(PY) -m hil.trace --junit out/junit.xml --out out/trace $(if $(TRACE_STRICT),--strict)

bench: $(STAMP) $(EMU_STAMP)
	$(PY) -m hil bench --out out/bench

calibrate: $(STAMP)
	$(PY) -m host.calibration --out out

cohort: $(STAMP)
	$(PY) -m host.cohort --n 2000 --out out/cohort

board: $(STAMP)
	$(PY) -m hil board

live: $(STAMP)
	$(PY) -m hil live $(if $(SPEED),--speed $(SPEED)) $(if $(PORT),--port $(PORT)) $(LIVE_ARGS)

trial: $(STAMP)
	$(PY) -m hil trial --out out/trial $(if $(SCHEDULER),--scheduler $(SCHEDULER))

campaign: $(STAMP)
	$(PY) -m hil.campaign $(or $(SPEC),campaigns/default.yaml) --out out/campaign $(if $(SCHEDULER),--scheduler $(SCHEDULER))

compile: $(STAMP)
	$(PY) -m hil.board.build --board $(BOARD) --out out/mpy

flash: $(STAMP)
	@test -n "$(PORT)" || { echo "usage: make flash PORT=/dev/ttyACM0 [BOARD=pico]"; exit 2; }
	$(PY) -m hil.board.flash --port $(PORT) --board $(BOARD)

fuzz: $(STAMP)
	$(PY) -m hil.reliability.fuzz --out out/fuzz

powercut: $(STAMP)
	$(PY) -m hil.reliability.powercut --out out/powercut

linkfault: $(STAMP)
	$(PY) -m hil.reliability.linkfault --out out/linkfault

reliability: fuzz powercut linkfault

clean:
	rm -rf out .pytest_cache
