// The emulated Pico: an RP2040 from rp2040js with its boot ROM, the
// MicroPython image in a flash file, a USB host on its USB port (CDC), and
// the outside world on its pins (ADC inputs, GPIO inputs, pulse trains in;
// GPIO and PWM outputs and edge counts out), all on one virtual clock.

import { BasePeripheral, GPIOPinState, RP2040, USBCDC } from 'rp2040js';

import { useFastCore } from './fastcore.mjs';
import { ERASE_SECTOR_NS, FlashFile, PAGE, PROGRAM_PAGE_NS, SECTOR, patchBootrom, readBootrom } from './flash.mjs';

const NS_PER_S = 1e9;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const WD_REASON_TIMER = 1;
const WD_REASON_FORCE = 2;
// A PWM slice faster than this is not emulated edge by edge (its edges would
// cost a callback each); its duty and frequency are read from its registers.
const EDGE_PWM_MAX_HZ = 1000;

const quietLogger = {
  debug() {},
  info() {},
  warn() {},
  error(component, message) {
    process.stderr.write(`rp2040js ${component}: ${message}\n`);
  },
};

/**
 * VREG_AND_CHIP_RESET, which rp2040js leaves unimplemented (reads of all
 * ones would tell the boot ROM that a debugger restarted the chip, and it
 * would wait for one). CHIP_RESET says what reset the chip: HAD_POR after a
 * power-on, nothing after a watchdog reset (that is in the watchdog's REASON).
 */
class ChipReset extends BasePeripheral {
  constructor(rp2040, powerOn) {
    super(rp2040, 'VREG_AND_CHIP_RESET');
    this.vreg = 0xb1;
    this.bod = 0x91;
    this.chipReset = powerOn ? 1 << 8 : 0;
  }

  readUint32(offset) {
    if (offset === 0) return this.vreg;
    if (offset === 4) return this.bod;
    if (offset === 8) return this.chipReset;
    return 0;
  }

  writeUint32(offset, value) {
    if (offset === 0) this.vreg = value & 0xf3;
    else if (offset === 4) this.bod = value & 0xf1;
    else if (offset === 8) this.chipReset &= ~(value & (1 << 24));   // PSM_RESTART_FLAG: write 1 to clear
  }
}

/** The USB host side of the CDC link: bytes to the board wait until it asks. */
class CdcHost {
  constructor(usb, onData) {
    this.usb = usb;
    this.queue = [];          // chunks (Uint8Array) for the board, oldest first
    this.queued = 0;
    this.pendingRead = -1;    // size of an OUT transfer the board armed with nothing to give
    this.connected = false;
    const cdc = (this.cdc = new USBCDC(usb));
    cdc.onDeviceConnected = () => {
      this.connected = true;
    };
    cdc.onSerialData = onData;
    // rp2040js's own CDC host answers every OUT transfer the board arms at
    // once, with zero bytes if it has none: the board then re-arms, and the
    // USB interrupt every 10 us keeps the core from ever sleeping. A real host
    // sends nothing until it has data: so does this one.
    usb.onEndpointRead = (endpoint, size) => {
      if (endpoint !== cdc.outEndpoint) return;
      if (this.queued === 0) {
        this.pendingRead = size;
        return;
      }
      this.deliver(size);
    };
  }

  deliver(size) {
    const n = Math.min(size, this.queued);
    const buf = new Uint8Array(n);
    let k = 0;
    while (k < n) {
      const head = this.queue[0];
      const take = Math.min(head.length, n - k);
      buf.set(head.subarray(0, take), k);
      k += take;
      if (take === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(take);
    }
    this.queued -= n;
    this.pendingRead = -1;
    this.usb.endpointReadDone(this.cdc.outEndpoint, buf);
  }

  write(bytes) {
    if (!bytes.length) return;
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (this.pendingRead >= 0) this.deliver(this.pendingRead);
  }
}

/** A pulse train on an input pin (a flow sensor): rising edges at `hz`, 50% duty. */
class PulseTrain {
  constructor(pin) {
    this.pin = pin;
    this.hz = 0;
    this.phase = 0;        // fraction of a pulse period done at `since`
    this.since = 0;        // host ns
    this.level = false;
    this.pulses = 0;
  }
}

export class Pico {
  constructor({ flash, uf2, bootrom, fast = true }) {
    this.fast = fast;
    this.rom = readBootrom(bootrom);
    this.bkpt = patchBootrom(this.rom);
    this.flashFile = new FlashFile(flash, uf2);
    this.mcu = null;
    this.t0 = 0;                  // host ns at which the current chip's clock started
    this.offNs = 0;               // host ns while unpowered
    this.out = [];                // CDC bytes from the board not yet sent to the host
    this.outBytes = 0;
    this.adc = [0, 0, 0, 0, 0];   // 12-bit ADC inputs (channel 4: temperature sensor)
    this.inputs = new Map();      // pin -> level driven from outside
    this.trains = new Map();      // pin -> PulseTrain
    this.edgePins = new Set();    // output pins whose rising edges are counted
    this.edges = new Map();       // pin -> rising edges since last read
    this.logPins = new Set();     // pins whose changes are logged with their time
    this.pinLog = [];             // [host ns, pin, level 0/1 | -1 not driven, PWM duty or null]
    this.boots = 0;
    this.resets = [];             // [host ns, cause] of every reset
    this.pendingReset = 0;        // watchdog reason of a reset to do after this instruction
    this.stats = { instructions: 0, idleNs: 0, flashErases: 0, flashPrograms: 0 };
    this.created = false;
    this.cutAt = Infinity;        // host ns of a power cut armed inside a flash operation
    this.cutDone = false;
    this.attention = false;      // something the run loop must look at after this instruction
    this.stopBytes = 0;
  }

  get powered() {
    return this.mcu !== null;
  }

  /** Virtual time seen from the host, ns. */
  get now() {
    return this.mcu ? this.t0 + this.mcu.clock.nanosCounter : this.offNs;
  }

  // -- power and reset ----------------------------------------------------------

  powerOn() {
    if (this.mcu) return;
    this.boot(0, null);
  }

  powerOff() {
    if (!this.mcu) return;
    this.offNs = this.now;
    // Without power no pin is driven.
    for (const pin of this.logPins) this.pinLog.push([this.offNs, pin, -1, null]);
    this.mcu = null;
    this.cdc = null;
    this.resets.push([this.offNs, 'power_off']);
  }

  boot(reason, scratch) {
    const start = this.now;
    const mcu = new RP2040();
    mcu.logger = quietLogger;
    mcu.peripherals[0x40064] = new ChipReset(mcu, reason === 0);
    mcu.loadBootrom(this.rom);        // (resets the core and erases rp2040js's flash array)
    const created = this.flashFile.load(mcu.flash);
    this.created = this.created || created;
    this.mcu = mcu;
    this.t0 = start;
    this.boots++;
    const wd = mcu.peripherals[0x40058];
    // The watchdog's reason and scratch registers survive its own reset.
    wd.reason = reason;
    if (scratch) wd.scratchData.set(scratch);
    wd.onWatchdogTrigger = () => {
      // The chip resets at once; rp2040js's watchdog would fire again and
      // again at the same instant (its counter stays at 0): stop it.
      this.pendingReset = wd.reason || WD_REASON_TIMER;
      this.attention = true;
      wd.alarm.enable = false;
      wd.timer.enable = false;
    };
    mcu.onBreak = (n) => this.onBreak(n);
    // The run loop takes instructions up to the next alarm without looking at
    // the alarm list: an alarm scheduled meanwhile must make it look again.
    const link = mcu.clock.linkAlarm.bind(mcu.clock);
    mcu.clock.linkAlarm = (nanos, alarm) => {
      this.attention = true;
      return link(nanos, alarm);
    };
    // ... and so must a change of the system clock (the cycle time).
    mcu.addClockListener(() => {
      this.attention = true;
    });
    if (this.fast) {
      useFastCore(mcu.core);
      fastMemory(mcu);
    }
    this.cdc = new CdcHost(mcu.usbCtrl, (buf) => {
      this.out.push(Buffer.from(buf));
      this.outBytes += buf.length;
      if (this.stopBytes > 0 && this.outBytes >= this.stopBytes) this.attention = true;
    });
    mcu.adc.channelValues = this.adc;
    for (const [pin, level] of this.inputs) mcu.gpio[pin].setInputValue(level);
    for (const pin of this.edgePins) this.attachEdges(pin);
    for (const pin of this.logPins) this.attachLog(pin);
    for (const t of this.trains.values()) {
      t.level = false;
      mcu.gpio[t.pin].setInputValue(false);
      this.scheduleTrain(t);
    }
    this.fastPwm();
    // A real chip's boot ROM reads boot2 (the first 256 bytes of the flash)
    // over the SSI, checks its CRC and runs it; rp2040js's SSI does not model
    // reads, so boot2 is started in place, as rp2040js's own MicroPython
    // demo does. Boot2 sets up XIP and jumps to the firmware's vector table.
    // The ROM's functions (flash, memory, float) are used as on a real chip.
    mcu.core.PC = 0x10000000;
  }

  chipReset(reason) {
    const wd = this.mcu.peripherals[0x40058];
    const scratch = Uint32Array.from(wd.scratchData);
    const at = this.now;
    this.resets.push([at, reason === WD_REASON_TIMER ? 'watchdog' : 'watchdog_force']);
    this.mcu = null;
    this.offNs = at;
    this.boot(reason, scratch);
  }

  // -- the run loop -------------------------------------------------------------

  /**
   * Run until host time `until` (ns), or until the board has sent `stopBytes`
   * bytes (>0) on the CDC link. Returns why it stopped.
   */
  run(until, stopBytes = 0) {
    if (!this.mcu) {
      if (until > this.offNs) this.offNs = until;
      return 'off';
    }
    this.stopBytes = stopBytes;
    this.attention = stopBytes > 0 && this.outBytes >= stopBytes;
    const stats = this.stats;
    let mcu = this.mcu;
    let core = mcu.core;
    let clock = mcu.clock;
    let target = until - this.t0;
    let nsPerCycle = NS_PER_S / mcu.clkSys;
    let n = 0;
    let why = 'time';
    let now = clock.nanosCounter;
    while (now < target) {
      if (core.waiting) {
        // Asleep in WFE/WFI: nothing happens until the next alarm.
        const next = clock.nextAlarm;
        const to = next && next.nanos < target ? next.nanos : target;
        const dt = Math.max(0, to - now);
        stats.idleNs += dt;
        clock.tick(dt);
      } else {
        // Instructions up to the next alarm (or the target): the alarm list,
        // a reset, a cut and the board's output raise `attention`, and the
        // step that meets any of them is taken on the full path below.
        const next = clock.nextAlarm;
        const limit = next && next.nanos < target ? next.nanos : target;
        let cycles;
        let t;
        for (;;) {
          cycles = core.executeInstruction();
          n++;
          t = clock.nanosCounter + cycles * nsPerCycle;
          if (t >= limit || this.attention || core.waiting) break;
          clock.nanosCounter = t;
        }
        const head = clock.nextAlarm;
        if (head && head.nanos <= t) clock.tick(cycles * nsPerCycle);
        else clock.nanosCounter = t;
      }
      if (this.attention) {
        this.attention = false;
        nsPerCycle = NS_PER_S / mcu.clkSys;
        if (this.cutDone) {
          this.cutDone = false;
          why = 'cut';
          break;
        }
        if (this.pendingReset) {
          const reason = this.pendingReset;
          this.pendingReset = 0;
          this.chipReset(reason);
          mcu = this.mcu;
          core = mcu.core;
          clock = mcu.clock;
          target = until - this.t0;
          nsPerCycle = NS_PER_S / mcu.clkSys;
        }
        if (stopBytes > 0 && this.outBytes >= stopBytes) {
          why = 'output';
          break;
        }
      }
      now = clock.nanosCounter;
    }
    stats.instructions += n;
    return why;
  }

  // -- the boot ROM's flash functions ---------------------------------------------

  onBreak(n) {
    const name = this.bkpt[n];
    const core = this.mcu.core;
    if (!name) {
      // A breakpoint with no debugger (a panic): the core stops there, as a
      // locked-up chip, until its watchdog or a power cycle resets it.
      process.stderr.write(`pico-emu: BKPT #${n} at 0x${(core.PC - 2).toString(16)}: core halted\n`);
      core.PC -= 2;
      core.waiting = true;
      return;
    }
    const r = core.registers;
    if (name === 'flash_range_erase') this.flashErase(r[0] >>> 0, r[1] >>> 0);
    else if (name === 'flash_range_program') this.flashProgram(r[0] >>> 0, r[1] >>> 0, r[2] >>> 0);
    // connect_internal_flash, flash_exit_xip, flash_flush_cache and
    // flash_enter_cmd_xip only set the SSI and the chip's modes up: nothing
    // to do in the emulator, whose flash reads straight from its array.
    core.PC = core.LR & ~1;
  }

  /** Advance the clock by a flash operation's duration; false if the power was cut in it. */
  flashWait(ns) {
    const clock = this.mcu.clock;
    if (this.t0 + clock.nanosCounter + ns > this.cutAt) {
      clock.tick(Math.max(0, this.cutAt - this.t0 - clock.nanosCounter));
      this.cutDone = true;
      this.attention = true;
      return false;
    }
    clock.tick(ns);
    return true;
  }

  flashErase(offset, count) {
    const flash = this.mcu.flash;
    for (let a = offset; a < offset + count && !this.cutDone; a += SECTOR) {
      if (!this.flashWait(ERASE_SECTOR_NS)) break;
      flash.fill(0xff, a, a + SECTOR);
      this.flashFile.write(flash, a, SECTOR);
      this.stats.flashErases++;
    }
  }

  flashProgram(offset, src, count) {
    const mcu = this.mcu;
    const flash = mcu.flash;
    for (let a = offset; a < offset + count && !this.cutDone; a += PAGE) {
      if (!this.flashWait(PROGRAM_PAGE_NS)) break;
      const len = Math.min(PAGE, offset + count - a);
      for (let i = 0; i < len; i++) {
        // Programming only clears bits.
        flash[a + i] &= mcu.readUint8(src + (a - offset) + i);
      }
      this.flashFile.write(flash, a, len);
      this.stats.flashPrograms++;
    }
  }

  // -- the outside world ------------------------------------------------------------

  writeCdc(bytes) {
    if (this.cdc) this.cdc.write(bytes);
  }

  takeOutput() {
    if (!this.outBytes) return null;
    const b = Buffer.concat(this.out);
    this.out = [];
    this.outBytes = 0;
    return b;
  }

  setAdc(values) {
    for (let i = 0; i < values.length && i < 5; i++) this.adc[i] = values[i] & 0xfff;
  }

  setInput(pin, level) {
    level = !!level;
    this.inputs.set(pin, level);
    if (this.mcu && this.mcu.gpio[pin].rawInputValue !== level) this.mcu.gpio[pin].setInputValue(level);
  }

  /** Set a pin's pulse rate from now on (the phase of the train carries on). */
  setPulses(pin, hz) {
    let t = this.trains.get(pin);
    const now = this.now;
    if (!t) {
      t = new PulseTrain(pin);
      this.trains.set(pin, t);
      t.since = now;
    } else {
      t.phase = (t.phase + ((now - t.since) * t.hz) / NS_PER_S) % 1;
      t.since = now;
    }
    t.hz = Math.max(0, hz);
    if (this.mcu) this.scheduleTrain(t);
  }

  scheduleTrain(t) {
    const mcu = this.mcu;
    if (!t.alarm || t.alarmMcu !== mcu) {
      t.alarm = mcu.clock.createAlarm(() => this.trainEdge(t));
      t.alarmMcu = mcu;
    }
    t.alarm.cancel();
    if (t.hz <= 0) {
      if (t.level) this.trainLevel(t, false);
      return;
    }
    // Phase 0: rising edge; phase 0.5: falling edge.
    const now = this.now;
    const p = (t.phase + ((now - t.since) * t.hz) / NS_PER_S) % 1;
    const toNext = p < 0.5 ? 0.5 - p : 1 - p;
    const high = p < 0.5;
    if (t.level !== high && p > 0) this.trainLevel(t, high);
    t.alarm.schedule(Math.max(1, Math.round((toNext * NS_PER_S) / t.hz)));
  }

  trainEdge(t) {
    const now = this.now;
    const p = (t.phase + ((now - t.since) * t.hz) / NS_PER_S) % 1;
    // Within rounding of an edge: 0 (rise) or 0.5 (fall).
    const rise = p < 0.25 || p > 0.75;
    this.trainLevel(t, rise);
    if (rise) t.pulses++;
    const next = rise ? 0.5 : 1;
    const frac = rise ? (p > 0.75 ? p - 1 : p) : p;
    t.alarm.schedule(Math.max(1, Math.round(((next - frac) * NS_PER_S) / t.hz)));
  }

  trainLevel(t, level) {
    t.level = level;
    this.mcu.gpio[t.pin].setInputValue(level);
  }

  watchEdges(pin) {
    if (this.edgePins.has(pin)) return;
    this.edgePins.add(pin);
    this.edges.set(pin, 0);
    if (this.mcu) this.attachEdges(pin);
  }

  attachEdges(pin) {
    this.mcu.gpio[pin].addListener((value, old) => {
      if (value === GPIOPinState.High && old !== GPIOPinState.High) this.edges.set(pin, this.edges.get(pin) + 1);
    });
  }

  /** Log the changes of a pin: its level, and its PWM duty while a PWM drives it. */
  logPin(pin) {
    if (this.logPins.has(pin)) return;
    this.logPins.add(pin);
    if (this.mcu) this.attachLog(pin);
  }

  attachLog(pin) {
    const mcu = this.mcu;
    this.pinLog.push([this.now, pin, ...this.pinState(pin)]);
    mcu.gpio[pin].addListener(() => {
      if (this.mcu === mcu) this.pinLog.push([this.now, pin, ...this.pinState(pin)]);
    });
  }

  pinState(pin) {
    const p = this.pin(pin);
    const w = this.pwm(pin);
    return [p.out ? p.level : -1, w.enabled ? w.duty : null];
  }

  takePinLog() {
    const out = this.pinLog;
    this.pinLog = [];
    return out;
  }

  /**
   * Stop edge-by-edge emulation of fast PWM slices (their registers are read
   * instead), and log the duty of logged pins a slice drives when it changes.
   */
  fastPwm() {
    const mcu = this.mcu;
    const wrap = (ch) => {
      const orig = ch.writeRegister.bind(ch);
      ch.writeRegister = (offset, value) => {
        orig(offset, value);
        const hz = pwmHz(mcu, ch);
        const fast = hz > EDGE_PWM_MAX_HZ;
        ch.alarmA.enable = !fast;
        ch.alarmB.enable = !fast;
        ch.alarmBottom.enable = !fast;
        if (this.logPins.size && this.mcu === mcu) {
          for (const pin of this.logPins) {
            if (((pin >> 1) & 7) === ch.index && mcu.gpio[pin].functionSelect === 4) {
              this.pinLog.push([this.now, pin, ...this.pinState(pin)]);
            }
          }
        }
      };
    };
    for (const ch of mcu.pwm.channels) wrap(ch);
  }

  // -- reading the outputs ------------------------------------------------------------

  pin(pin) {
    if (!this.mcu) return { level: 0, out: false, func: 0 };
    const g = this.mcu.gpio[pin];
    const v = g.value;
    return {
      level: v === GPIOPinState.High || v === GPIOPinState.InputPullUp ? 1 : 0,
      out: v === GPIOPinState.High || v === GPIOPinState.Low,
      func: g.functionSelect,
    };
  }

  pwm(pin) {
    // The pin's slice and channel, and what the slice is set to drive.
    if (!this.mcu) return { duty: 0, hz: 0, enabled: false };
    const mcu = this.mcu;
    const ch = mcu.pwm.channels[(pin >> 1) & 7];
    const enabled = !!(ch.csr & 1) && mcu.gpio[pin].functionSelect === 4;
    const top = ch.top;
    const cc = pin & 1 ? ch.cc >>> 16 : ch.cc & 0xffff;
    const duty = Math.min(cc, top + 1) / (top + 1);
    return { duty: enabled ? duty : 0, hz: enabled ? pwmHz(mcu, ch) : 0, enabled, top, cc };
  }

  takeEdges() {
    const out = {};
    for (const [pin, n] of this.edges) {
      out[pin] = n;
      this.edges.set(pin, 0);
    }
    return out;
  }
}

/**
 * Faster memory paths, the same stores and loads: rp2040js looks a write
 * address up among the peripherals before it tries the SRAM (a slow lookup),
 * reads the boot ROM's range before the SRAM and flash, and the core reaches
 * the chip's memory through one more call. Here SRAM and flash accesses go
 * straight to typed arrays over rp2040js's own buffers, from the core
 * (`core.readUint32` and the others, own properties) and from the chip;
 * anything else (peripherals, unaligned accesses) is left to rp2040js. The
 * views also serve the decoder's instruction fetch (fastcore.mjs).
 */
function fastMemory(mcu) {
  if (!LITTLE_ENDIAN) return;
  const core = mcu.core;
  const RAM = 0x20000000;
  const FLASH = 0x10000000;
  const sram = mcu.sram;
  const ramBytes = sram.length;
  const ram32 = new Uint32Array(sram.buffer, sram.byteOffset, ramBytes >>> 2);
  const ram16 = new Uint16Array(sram.buffer, sram.byteOffset, ramBytes >>> 1);
  const flash = mcu.flash;
  const flashBytes = flash.length;
  const flash32 = new Uint32Array(flash.buffer, flash.byteOffset, flashBytes >>> 2);
  const flash16 = new Uint16Array(flash.buffer, flash.byteOffset, flashBytes >>> 1);
  const r32 = mcu.readUint32.bind(mcu);
  const r16 = mcu.readUint16.bind(mcu);
  const r8 = mcu.readUint8.bind(mcu);
  const w32 = mcu.writeUint32.bind(mcu);
  const w16 = mcu.writeUint16.bind(mcu);
  const w8 = mcu.writeUint8.bind(mcu);
  // Reads: SRAM, then flash (all four XIP aliases, as rp2040js maps them).
  const read32 = (address) => {
    const a = address >>> 0;
    if ((a & 3) === 0) {
      const off = a - RAM;
      if (off >= 0 && off < ramBytes) return ram32[off >>> 2];
      const f = a - FLASH;
      if (f >= 0 && f < 0x4000000 && (a & 0xffffff) < flashBytes) return flash32[(a & 0xffffff) >>> 2];
    }
    return r32(address);
  };
  const read16 = (address) => {
    if ((address & 1) === 0) {
      const off = address - RAM;
      if (off >= 0 && off < ramBytes) return ram16[off >>> 1];
      const f = address - FLASH;
      if (f >= 0 && f < flashBytes) return flash16[f >>> 1];
    }
    return r16(address);
  };
  const read8 = (address) => {
    const off = address - RAM;
    if (off >= 0 && off < ramBytes) return sram[off];
    return r8(address);
  };
  // Writes: SRAM (no peripheral lives there).
  const write32 = (address, value) => {
    const off = (address >>> 0) - RAM;
    if (off >= 0 && off < ramBytes && (off & 3) === 0) ram32[off >>> 2] = value;
    else w32(address, value);
  };
  const write16 = (address, value) => {
    const off = address - RAM;
    if (off >= 0 && off < ramBytes && (off & 1) === 0) ram16[off >>> 1] = value;
    else w16(address, value);
  };
  const write8 = (address, value) => {
    const off = address - RAM;
    if (off >= 0 && off < ramBytes) sram[off] = value;
    else w8(address, value);
  };
  mcu.readUint32 = core.readUint32 = read32;
  mcu.readUint16 = core.readUint16 = read16;
  mcu.readUint8 = core.readUint8 = read8;
  mcu.writeUint32 = core.writeUint32 = write32;
  mcu.writeUint16 = core.writeUint16 = write16;
  mcu.writeUint8 = core.writeUint8 = write8;
  // The fetch (fastcore.mjs): flash and boot ROM halfwords by index.
  core.fetchFlash = flash16;
  core.fetchFlashEnd = flashBytes;
  core.fetchRom = new Uint16Array(mcu.bootrom.buffer, mcu.bootrom.byteOffset, mcu.bootrom.length * 2);
  core.fetchRomEnd = mcu.bootrom.length * 4;
}

function pwmHz(mcu, ch) {
  const div = ch.div;
  const d = ((div >> 4) & 0xff || 256) + (div & 0xf) / 16;
  const phaseCorrect = ch.csr & 2 ? 2 : 1;
  return mcu.clkSys / d / (ch.top + 1) / phaseCorrect;
}
