// A faster instruction decoder for rp2040js's Cortex-M0+ core, made from its
// own source: the same code, dispatched by a table.
//
// rp2040js decodes each instruction with one long if / else-if chain (about
// 90 tests, in alphabetical order of the mnemonics), so a common instruction
// such as LDR or STR costs dozens of comparisons before it runs. Here that
// chain is read from the installed rp2040js's executeInstruction (its source
// text), every 16-bit opcode is tested against the chain's conditions once,
// at start-up, and a new executeInstruction is compiled that jumps through a
// 64K-entry table straight to the branch the chain would have taken (the
// commonest few inline, in a switch; the others in functions). The
// branch bodies, the prologue (interrupt check, fetch) and the epilogue
// (cycle count) are rp2040js's own text, unchanged but for the fetch, which
// reads code in flash or the boot ROM from a view of the same bytes: only the
// order of the tests differs, and the tests are pure functions of the opcode,
// so the behaviour is the same instruction for instruction
// (check-fastcore.mjs, run by tests/emu/test_emulator.py, runs both side by
// side and compares the registers after every instruction).
//
// Conditions that also look at the second half of a 32-bit instruction
// (opcode2: BL, MSR, MRS, DMB, DSB, ISB, UDF.W) are kept as tests, in their
// original order, for the opcodes where they can match.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { RP2040 } from 'rp2040js';

const require = createRequire(import.meta.url);

function coreSourcePath() {
  const main = require.resolve('rp2040js');   // .../dist/cjs/index.js
  return path.join(path.dirname(path.dirname(main)), 'esm', 'cortex-m0-core.js');
}

// -- a small scanner for JavaScript source: brackets, strings, comments -----------

function skipString(src, i) {
  const q = src[i];
  i++;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') i += 2;
    else if (q === '`' && c === '$' && src[i + 1] === '{') i = matchBracket(src, i + 1) + 1;
    else if (c === q) return i + 1;
    else i++;
  }
  throw new Error('fastcore: unterminated string');
}

/** Index of the bracket that closes the one at src[open]. */
function matchBracket(src, open) {
  const pairs = { '(': ')', '{': '}', '[': ']' };
  const stack = [pairs[src[open]]];
  let i = open + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === "'" || c === '"' || c === '`') {
      i = skipString(src, i);
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      i = src.indexOf('\n', i);
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      i = src.indexOf('*/', i) + 2;
      continue;
    }
    if (c in pairs) stack.push(pairs[c]);
    else if (c === ')' || c === '}' || c === ']') {
      if (stack.pop() !== c) throw new Error(`fastcore: unbalanced ${c} at ${i}`);
      if (stack.length === 0) return i;
    }
    i++;
  }
  throw new Error('fastcore: unbalanced brackets');
}

function skipSpaceAndComments(src, i) {
  for (;;) {
    while (/\s/.test(src[i])) i++;
    if (src.startsWith('//', i)) i = src.indexOf('\n', i);
    else if (src.startsWith('/*', i)) i = src.indexOf('*/', i) + 2;
    else return i;
  }
}

/** Split executeInstruction into prologue, [{cond, body}], final else body, epilogue. */
function parseExecute(src) {
  const start = src.indexOf('    executeInstruction() {');
  if (start < 0) throw new Error('fastcore: executeInstruction not found');
  const open = src.indexOf('{', start);
  const close = matchBracket(src, open);
  const fn = src.slice(open + 1, close);
  const first = fn.indexOf('// ADCS');
  if (first < 0) throw new Error('fastcore: the decode chain does not start where expected');
  const prologue = fn.slice(0, first);
  let i = skipSpaceAndComments(fn, first);
  let before = first;
  const branches = [];
  let elseBody = null;
  for (;;) {
    if (!fn.startsWith('if', i)) throw new Error(`fastcore: expected "if" at ${fn.slice(i, i + 40)}`);
    // The branch's name: the comment above it (// LDR (immediate)).
    const names = [...fn.slice(before, i).matchAll(/\/\/ *([^\n]*?) *\n/g)];
    const name = names.length ? names[names.length - 1][1] : '';
    const cOpen = fn.indexOf('(', i);
    const cClose = matchBracket(fn, cOpen);
    const bOpen = skipSpaceAndComments(fn, cClose + 1);
    if (fn[bOpen] !== '{') throw new Error('fastcore: a branch without braces');
    const bClose = matchBracket(fn, bOpen);
    branches.push({ name, cond: fn.slice(cOpen + 1, cClose), body: fn.slice(bOpen + 1, bClose) });
    before = bClose + 1;       // the next one's comment comes before its "else"
    i = skipSpaceAndComments(fn, bClose + 1);
    if (!fn.startsWith('else', i)) break;
    i = skipSpaceAndComments(fn, i + 4);
    if (fn[i] === '{') {
      const eClose = matchBracket(fn, i);
      elseBody = fn.slice(i + 1, eClose);
      i = eClose + 1;
      break;
    }
  }
  const epilogue = fn.slice(i);
  if (!/this\.cycles \+= deltaCycles;\s*return deltaCycles;\s*$/.test(epilogue)) {
    throw new Error('fastcore: the epilogue is not what was expected');
  }
  return { prologue, branches, elseBody, epilogue };
}

/** The module's own top-level helpers and constants (everything before the class). */
function modulePrelude(src) {
  const cls = src.indexOf('export class CortexM0Core');
  return src
    .slice(0, cls)
    .split('\n')
    .filter((l) => !l.startsWith('import '))
    .join('\n')
    .replace(/^export /gm, '');
}

const isWide = (op) => op >> 12 === 0b1111 || op >> 11 === 0b11101;

/** For every opcode, the chain's branches to test in order: exact where opcode2 plays no part. */
function buildPrograms(branches) {
  const conds = branches.map((b) => ({
    usesOp2: /\bopcode2\b/.test(b.cond),
    test: new Function('opcode', 'opcode2', `return (${b.cond});`),
  }));
  const programs = new Map();   // key "i,j,k|end" -> id
  const list = [];
  const table = new Uint8Array(65536);
  for (let op = 0; op < 65536; op++) {
    const wide = isWide(op);
    const seq = [];
    let definite = -1;
    for (let k = 0; k < conds.length; k++) {
      const c = conds[k];
      if (c.usesOp2 && wide) {
        // It depends on the second half too: test it at run time, in order.
        seq.push(k);
        continue;
      }
      if (c.test(op, 0)) {
        definite = k;
        break;
      }
    }
    const key = `${seq.join(',')}|${definite}`;
    let id = programs.get(key);
    if (id === undefined) {
      id = list.length;
      programs.set(key, id);
      list.push({ maybe: seq, definite });
    }
    table[op] = id;
  }
  if (list.length > 255) throw new Error('fastcore: too many distinct decode programs');
  return { table, list };
}

// The fetch: rp2040js reads each opcode through two calls and a range test
// per memory; here code in flash or the boot ROM (nearly all of it) is read
// from a halfword view of the same bytes (runner.mjs sets the views up on the
// core), anything else through the core's readUint16 as before.
const FETCH = 'const opcode = this.readUint16(opcodePC);';
const FETCH2 = 'const opcode2 = wideInstruction ? this.readUint16(opcodePC + 2) : 0;';

function fastFetch(prologue) {
  if (!prologue.includes(FETCH) || !prologue.includes(FETCH2)) {
    throw new Error('fastcore: the instruction fetch is not what was expected');
  }
  const half = (a) =>
    `((${a}) - 0x10000000 >>> 0 < this.fetchFlashEnd ? this.fetchFlash[(${a}) - 0x10000000 >>> 1] : ` +
    `(${a}) < this.fetchRomEnd ? this.fetchRom[(${a}) >>> 1] : this.readUint16(${a}))`;
  return prologue
    .replace(FETCH, `const opcode = ${half('opcodePC')};`)
    .replace(FETCH2, `const opcode2 = wideInstruction ? ${half('opcodePC + 2')} : 0;`);
}

// The commonest instructions of MicroPython's VM (together about half of
// those it runs): their bodies go inline in executeInstruction, in a switch,
// rather than in a function called through the table. Only where they are
// found, by name, in the chain; the code is the same either way.
const INLINE = ['LSLS (immediate)', 'B (with cond)', 'LDR (immediate)', 'MOV', 'CMP immediate', 'MOVS',
  'STR (immediate)'];

function generate(parsed, programs) {
  // One small function per decode program (V8 optimises small functions
  // well, one with 80 bodies and a large frame badly), called through a
  // table: each gets the decoded opcode and returns the cycles it took.
  const { prologue, branches, elseBody, epilogue } = parsed;
  if (!/let deltaCycles = 1;\s*$/.test(prologue)) throw new Error('fastcore: the prologue is not what was expected');
  const head = fastFetch(prologue.replace(/let deltaCycles = 1;\s*$/, ''));
  const bodyOf = (k) => (k < 0 ? elseBody : branches[k].body);
  const handlers = programs.list.map((p) => {
    let code = '';
    for (const k of p.maybe) code += `if (${branches[k].cond}) {${branches[k].body}}\n else `;
    code += `{${bodyOf(p.definite)}}`;
    return `function (opcode, opcode2, opcodePC) {\nlet deltaCycles = 1;\n${code}\nreturn deltaCycles;\n}`;
  });
  let inline = '';
  programs.list.forEach((p, id) => {
    const b = branches[p.definite];
    if (p.maybe.length || !b || !INLINE.includes(b.name) || /\breturn\b/.test(b.body)) return;
    inline += `case ${id}: {${b.body}}\nbreak;\n`;
  });
  const exec = `function executeInstruction() {\n${head}\nlet deltaCycles = 1;\nconst id = TABLE[opcode];\n` +
    `switch (id) {\n${inline}default:\ndeltaCycles = HANDLERS[id].call(this, opcode, opcode2, opcodePC);\n}\n` +
    `${epilogue}\n}`;
  return `const HANDLERS = [\n${handlers.join(',\n')}\n];\nreturn ${exec};`;
}

let compiled = null;

/** Compile the fast executeInstruction (once) from the installed rp2040js. */
export function fastExecuteInstruction() {
  if (compiled) return compiled;
  const src = fs.readFileSync(coreSourcePath(), 'utf8');
  const parsed = parseExecute(src);
  const programs = buildPrograms(parsed.branches);
  const body = generate(parsed, programs);
  const make = new Function(
    'MAX_HARDWARE_IRQ',
    'APB_START_ADDRESS',
    'SIO_START_ADDRESS',
    'TABLE',
    `${modulePrelude(src)}\n${body}`,
  );
  // The constants the module imports, read from where rp2040js defines them.
  const dir = path.dirname(coreSourcePath());
  const irq = fs.readFileSync(path.join(dir, 'irq.js'), 'utf8');
  const rp = fs.readFileSync(path.join(dir, 'rp2040.js'), 'utf8');
  const num = (text, re) => {
    const m = text.match(re);
    if (!m) throw new Error(`fastcore: ${re} not found in rp2040js`);
    return Number(m[1]);
  };
  if (!/MAX_HARDWARE_IRQ = IRQ\.RTC;/.test(irq)) throw new Error('fastcore: MAX_HARDWARE_IRQ changed');
  compiled = make(
    num(irq, /IRQ\["RTC"\] = (\d+)/),
    num(rp, /APB_START_ADDRESS = (0x[0-9a-f]+)/),
    num(rp, /SIO_START_ADDRESS = (0x[0-9a-f]+)/),
    programs.table,
  );
  compiled.branches = parsed.branches.length;
  compiled.programs = programs.list.length;
  compiled.inlined = parsed.branches.filter((b) => INLINE.includes(b.name)).map((b) => b.name);
  return compiled;
}

/** Use the fast decoder on a core (or on every core, given the class). */
export function useFastCore(core) {
  // No fetch views until the runner gives them (fetches then go through readUint16).
  core.fetchFlash = core.fetchRom = new Uint16Array(0);
  core.fetchFlashEnd = core.fetchRomEnd = 0;
  core.executeInstruction = fastExecuteInstruction();
}

/** rp2040js's own executeInstruction. */
export const originalExecuteInstruction = Object.getPrototypeOf(new RP2040().core).executeInstruction;
