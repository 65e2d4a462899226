#!/usr/bin/env node
// Check the fast paths (fastcore.mjs's decoder, runner.mjs's direct memory
// accesses and its run loop) against rp2040js's own: emulated Picos on copies
// of the same flash image, one with each decoder, run side by side one
// instruction (or one idle stretch) at a time; after every step the
// registers, flags, mode, cycle count and clock must be equal, and at the end
// the SRAM and the flash too. A third, fast one runs in long stretches (the
// run loop's path between alarms), to where the first has got every 100 us
// of virtual time, and must be in the same state there.
//
//   node emulator/check-fastcore.mjs --flash IMAGE --uf2 UF2 --bootrom ROM [--steps N]
//
// Prints one JSON line: {"steps", "instructions", "virtual_ns", "equal",
// "first_difference", "stretches"}.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { fastExecuteInstruction, originalExecuteInstruction } from './fastcore.mjs';
import { Pico } from './runner.mjs';

function args(argv) {
  const a = { steps: 2000000 };
  for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1];
  a.steps = Number(a.steps);
  return a;
}

function state(p) {
  const c = p.mcu.core;
  return `${c.registers.join(',')}|${c.N}${c.Z}${c.C}${c.V}|${c.PM}|${c.IPSR}|${c.waiting}|${c.cycles}|${p.mcu.clock.nanosCounter}`;
}

const a = args(process.argv.slice(2));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastcore-'));
const make = (name, fast) => {
  const flash = path.join(dir, name);
  if (a.flash) fs.copyFileSync(a.flash, flash);
  // fast: the table decoder and the direct SRAM accesses (runner.mjs), as used.
  const p = new Pico({ flash, uf2: a.uf2, bootrom: a.bootrom, fast });
  p.powerOn();
  if (!fast && p.mcu.core.executeInstruction !== originalExecuteInstruction) throw new Error('not rp2040js');
  if (fast && p.mcu.core.executeInstruction !== fastExecuteInstruction()) throw new Error('not fast');
  return p;
};
const slow = make('slow.img', false);
const fast = make('fast.img', true);
const long = make('long.img', true);
const STRETCH_NS = 100000;
let nextStretch = slow.now + STRETCH_NS;
let stretches = 0;
let first = null;
let steps = 0;
for (; steps < a.steps; steps++) {
  const core = slow.mcu.core;
  const clock = slow.mcu.clock;
  // One instruction, or (asleep) up to the next alarm.
  let until = slow.now + 1;
  if (core.waiting) until = clock.nextAlarm ? Math.max(slow.now + 1, slow.t0 + clock.nextAlarm.nanos) : slow.now + 1e6;
  slow.run(until);
  fast.run(until);
  const s = state(slow);
  const f = state(fast);
  if (s !== f) {
    first = { step: steps, rp2040js: s, fast: f };
    break;
  }
  if (slow.now >= nextStretch) {
    long.run(slow.now);
    stretches++;
    nextStretch = slow.now + STRETCH_NS;
    const l = state(long);
    if (s !== l) {
      first = { step: steps, rp2040js: s, stretch: l };
      break;
    }
  }
}
const same = (a, b) =>
  Buffer.compare(Buffer.from(a.mcu.sram), Buffer.from(b.mcu.sram)) === 0 &&
  Buffer.compare(Buffer.from(a.mcu.flash), Buffer.from(b.mcu.flash)) === 0;
long.run(slow.now);
const memories = same(slow, fast) && same(slow, long) && state(slow) === state(long);
fs.rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  JSON.stringify({
    steps,
    instructions: slow.stats.instructions,
    virtual_ns: slow.now,
    equal: first === null && memories,
    memories_equal: memories,
    first_difference: first,
    stretches,
  }) + '\n',
);
