#!/usr/bin/env node
// An emulated Raspberry Pi Pico for the HIL harness: rp2040js running the
// official MicroPython firmware, driven over stdin/stdout by the Python side
// (hil/board/pico_emu.py) with a small framed protocol (control.mjs, and
// docs/pico-emu.md).
//
//   node emulator/pico.mjs --flash FILE --uf2 MICROPYTHON.uf2 --bootrom BOOTROM.bin
//
// Time is virtual: the board runs only when told to run until a virtual time,
// and idle time (WFE/WFI with nothing to do until the next timer alarm) is
// skipped. The same commands in the same order give the same run.

import { Pico } from './runner.mjs';
import { serve } from './control.mjs';

function parseArgs(argv) {
  const args = { flash: null, uf2: null, bootrom: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--flash') args.flash = v();
    else if (a === '--uf2') args.uf2 = v();
    else if (a === '--bootrom') args.bootrom = v();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.flash || !args.uf2 || !args.bootrom) {
    throw new Error('usage: pico.mjs --flash FILE --uf2 FILE --bootrom FILE');
  }
  return args;
}

// stdout carries the framed protocol only: nothing else may print there.
console.log = console.info = console.debug = (...a) => process.stderr.write(a.join(' ') + '\n');

try {
  const args = parseArgs(process.argv.slice(2));
  const pico = new Pico(args);
  serve(pico, process.stdin, process.stdout);
} catch (e) {
  process.stderr.write(`pico-emu: ${e.message}\n`);
  process.exit(2);
}
