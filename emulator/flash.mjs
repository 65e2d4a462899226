// The Pico's 2 MiB QSPI flash, kept in a file, and the boot ROM's flash
// functions that rp2040js does not emulate (it has no model of erasing or
// programming through the SSI).
//
// The file holds the whole flash image: the firmware (from a UF2 at first use)
// and MicroPython's littlefs at the top. Every erase and program is written
// through to the file as it happens, so the file is always what the flash
// chip holds: a power cut (the emulator stopped at any instruction, or the
// process killed) leaves it exactly as the chip would be.
//
// The boot ROM's functions are found through its function table (the one the
// SDK's rom_func_lookup() reads: a 16-bit pointer at 0x14 to pairs of
// (two-letter code, 16-bit address)), and the first instruction of each is
// replaced in the emulator's copy of the ROM by a BKPT whose number says which
// function it is. The runner handles the BKPT: it does the work on
// rp2040.flash and the file, advances the virtual clock by what the chip
// would take, and returns to the caller through LR.

import fs from 'node:fs';
import path from 'node:path';

export const FLASH_BYTES = 2 * 1024 * 1024;   // W25Q16JV on the Pico
export const SECTOR = 4096;
export const PAGE = 256;
// Typical times of the W25Q16JV (datasheet, section 9.6): a sector erase
// 45 ms, a page program 0.4 ms. The real chip stalls the RP2040 (XIP off,
// interrupts off in MicroPython) for that long; so does the emulated one.
export const ERASE_SECTOR_NS = 45e6;
export const PROGRAM_PAGE_NS = 0.4e6;

const XIP_BASE = 0x10000000;

// Codes as rom_func_lookup takes them: ROM_TABLE_CODE(c1, c2) = c1 | c2 << 8.
const code = (s) => s.charCodeAt(0) | (s.charCodeAt(1) << 8);
export const ROM_FUNCS = {
  IF: 'connect_internal_flash',
  EX: 'flash_exit_xip',
  RE: 'flash_range_erase',
  RP: 'flash_range_program',
  FC: 'flash_flush_cache',
  CX: 'flash_enter_cmd_xip',
};
const BKPT_BASE = 0xa0;   // BKPT #0xa0.. : one number per trapped function

export function readBootrom(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.length !== 16384) {
    throw new Error(`${file}: a boot ROM is 16384 bytes, this is ${bytes.length}`);
  }
  const words = new Uint32Array(4096);
  for (let i = 0; i < 4096; i++) words[i] = bytes.readUInt32LE(i * 4);
  return words;
}

function romHalf(rom, addr) {
  const w = rom[addr >>> 2];
  return addr & 2 ? w >>> 16 : w & 0xffff;
}

function setRomHalf(rom, addr, value) {
  const i = addr >>> 2;
  rom[i] = addr & 2 ? ((rom[i] & 0xffff) | (value << 16)) >>> 0 : ((rom[i] & 0xffff0000) | value) >>> 0;
}

/** Find the ROM functions in the function table; returns {name: {addr, bkpt}}. */
export function romFunctions(rom) {
  const table = romHalf(rom, 0x14);
  const found = {};
  for (let p = table; p < 16384; p += 4) {
    const c = romHalf(rom, p);
    if (c === 0) break;
    const addr = romHalf(rom, p + 2) & ~1;
    for (const [k, name] of Object.entries(ROM_FUNCS)) {
      if (c === code(k)) found[name] = { addr, code: k };
    }
  }
  for (const name of Object.values(ROM_FUNCS)) {
    if (!(name in found)) throw new Error(`boot ROM: function ${name} not in its function table`);
  }
  return found;
}

/** Replace each flash function's first instruction by a BKPT; returns bkpt number -> name. */
export function patchBootrom(rom) {
  const funcs = romFunctions(rom);
  const byBkpt = {};
  let n = BKPT_BASE;
  for (const name of Object.values(ROM_FUNCS)) {
    setRomHalf(rom, funcs[name].addr, 0xbe00 | n);
    byBkpt[n] = name;
    n++;
  }
  return byBkpt;
}

/** Parse a UF2 file into (flash offset, bytes) blocks for the RP2040. */
export function uf2Blocks(file) {
  const data = fs.readFileSync(file);
  const out = [];
  for (let off = 0; off + 512 <= data.length; off += 512) {
    const magic0 = data.readUInt32LE(off);
    const magic1 = data.readUInt32LE(off + 4);
    const magicEnd = data.readUInt32LE(off + 508);
    if (magic0 !== 0x0a324655 || magic1 !== 0x9e5d5157 || magicEnd !== 0x0ab16f30) {
      throw new Error(`${file}: block at ${off} is not a UF2 block`);
    }
    const flags = data.readUInt32LE(off + 8);
    if (flags & 1) continue;   // not for the main flash
    const target = data.readUInt32LE(off + 12);
    const size = data.readUInt32LE(off + 16);
    if (target < XIP_BASE || target + size > XIP_BASE + FLASH_BYTES) {
      throw new Error(`${file}: block at ${off} targets 0x${target.toString(16)}, outside the flash`);
    }
    out.push([target - XIP_BASE, data.subarray(off + 32, off + 32 + size)]);
  }
  return out;
}

/**
 * The flash image file. `open()` creates it from the UF2 (erased flash with
 * the firmware in it) if it does not exist yet, atomically, and loads it into
 * `rp2040.flash`; erase() and program() change both.
 */
export class FlashFile {
  constructor(file, uf2) {
    this.file = file;
    this.uf2 = uf2;
    this.fd = -1;
    this.erases = 0;
    this.programs = 0;
  }

  create() {
    const image = Buffer.alloc(FLASH_BYTES, 0xff);
    for (const [off, bytes] of uf2Blocks(this.uf2)) bytes.copy(image, off);
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
    const fd = fs.openSync(tmp, 'w');
    fs.writeSync(fd, image);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, this.file);
    return true;
  }

  /** Load the image into the emulator's flash array; true if it was just created. */
  load(flash) {
    let created = false;
    if (!fs.existsSync(this.file)) created = this.create();
    const image = fs.readFileSync(this.file);
    if (image.length !== FLASH_BYTES) {
      throw new Error(`${this.file}: a flash image is ${FLASH_BYTES} bytes, this is ${image.length}`);
    }
    flash.fill(0xff);
    flash.set(image, 0);
    if (this.fd < 0) this.fd = fs.openSync(this.file, 'r+');
    return created;
  }

  write(flash, offset, length) {
    fs.writeSync(this.fd, flash, offset, length, offset);
  }

  close() {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}
