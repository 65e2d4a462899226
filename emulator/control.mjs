// The control protocol between the Python side and the emulated Pico, on the
// emulator's stdin and stdout. Every message in either direction is
//
//   u32 length (little-endian, of what follows) | u8 kind | payload
//
// kinds: 'D' bytes on the USB CDC link (to the board from the host, or from
// the board to the host); 'J' a JSON command (host -> emulator) or its reply
// (emulator -> host). Commands are done one at a time, in order; each gets
// exactly one 'J' reply, and every byte the board sent before the reply comes
// before it in a 'D' message. A command is an object whose keys are done in
// this order, all optional:
//
//   power: true|false        power on (boot) or off (the chip stops where it is)
//   adc: [c0, c1, c2, c3]    12-bit ADC inputs from now on (GPIO 26..29)
//   inputs: {pin: 0|1}       levels driven on input pins from now on
//   pulses: {pin: hz}        a 50% pulse train on an input pin from now on
//   watch: [pin, ...]        count the rising edges of these output pins
//   log: [pin, ...]          log every change of these pins: [ns, pin, level
//                            (-1: not driven), PWM duty (null: no PWM)]
//   cut_at: ns               run to this virtual time, then cut the power there
//                            (inside a flash operation if one is under way)
//   run: ns                  run to this virtual time (idle time skipped)
//   stop_bytes: n            ... or until the board has sent n bytes (n > 0)
//   read: {pins: [..], pwm: [..], log: true}   read output pins, PWM slices
//                            of pins, edges counted (and the pin log) since the last read;
//                            the reply's `sig` is a string of what was read of
//                            the pins and the PWM slices (and the power)
//   periods: {first, every, count, sig, edges: {pin: [n, ..]}, inputs: [{adc,
//             inputs, pulses}, ..]}
//                            instead of run: run to `first`, then on to `first +
//                            every`, ... (at most `count` stops); at each stop
//                            read as `read` says, and go on only if the reading's
//                            `sig` is `sig` and the edges counted since the last
//                            stop are `edges[pin][i]`: then set `inputs[i]` (as
//                            adc, inputs and pulses above) and run to the next
//                            stop. The reply's `periods` has the reading of every
//                            stop ({t, powered, pins, pwm, edges, sig}); the pin
//                            log of them all is the reply's `log`.
//   info: true               counters (boots, resets, instructions, flash ops)
//   quit: true               end the emulator (the flash file is up to date)
//
// The reply: {t: virtual ns now, powered, why (of a run), read results, ...}
// or {error: message}.

function setInputs(pico, cmd) {
  if (cmd.adc) pico.setAdc(cmd.adc);
  if (cmd.inputs) for (const [pin, v] of Object.entries(cmd.inputs)) pico.setInput(+pin, v);
  if (cmd.pulses) for (const [pin, hz] of Object.entries(cmd.pulses)) pico.setPulses(+pin, hz);
}

/** The outputs `read` asks for, the edges counted since the last reading, and their signature. */
function reading(pico, read) {
  const r = {};
  if (read.pins) r.pins = Object.fromEntries(read.pins.map((p) => [p, pico.pin(p)]));
  if (read.pwm) r.pwm = Object.fromEntries(read.pwm.map((p) => [p, pico.pwm(p)]));
  r.edges = pico.takeEdges();
  r.sig = JSON.stringify([pico.powered, r.pins || null, r.pwm || null]);
  return r;
}

/** Several periods in one command, while the board's outputs are what the host expects. */
function runPeriods(pico, p, read) {
  const out = [];
  let until = p.first;
  for (let i = 0; i < p.count; i++) {
    pico.run(until);
    const r = reading(pico, read);
    r.t = pico.now;
    r.powered = pico.powered;
    out.push(r);
    if (i === p.count - 1 || r.sig !== p.sig) break;
    let same = true;
    for (const [pin, counts] of Object.entries(p.edges || {})) {
      if ((r.edges[pin] || 0) !== counts[i]) same = false;
    }
    if (!same) break;
    setInputs(pico, (p.inputs && p.inputs[i]) || {});
    until += p.every;
  }
  return out;
}

export function serve(pico, input, output) {
  let buf = Buffer.alloc(0);

  const send = (kind, payload) => {
    const head = Buffer.alloc(5);
    head.writeUInt32LE(payload.length + 1, 0);
    head[4] = kind.charCodeAt(0);
    output.write(Buffer.concat([head, payload]));
  };

  const flushCdc = () => {
    const out = pico.takeOutput();
    if (out) send('D', out);
  };

  const handle = (cmd) => {
    const reply = {};
    if ('power' in cmd) {
      if (cmd.power) pico.powerOn();
      else pico.powerOff();
    }
    setInputs(pico, cmd);
    if (cmd.watch) for (const pin of cmd.watch) pico.watchEdges(+pin);
    if (cmd.log) for (const pin of cmd.log) pico.logPin(+pin);
    if ('cut_at' in cmd) {
      pico.cutAt = cmd.cut_at;
      const why = pico.run(cmd.cut_at);
      pico.cutAt = Infinity;
      pico.powerOff();
      reply.why = why === 'cut' ? 'cut_in_flash_op' : 'cut';
    }
    if ('run' in cmd) {
      const wall = process.hrtime.bigint();
      reply.why = pico.run(cmd.run, cmd.stop_bytes || 0);
      reply.wall_ns = Number(process.hrtime.bigint() - wall);
    }
    if (cmd.periods) {
      const wall = process.hrtime.bigint();
      reply.periods = runPeriods(pico, cmd.periods, cmd.read || {});
      reply.wall_ns = Number(process.hrtime.bigint() - wall);
      if (cmd.read && cmd.read.log) reply.log = pico.takePinLog();
    } else if (cmd.read) {
      Object.assign(reply, reading(pico, cmd.read));
      if (cmd.read.log) reply.log = pico.takePinLog();
    }
    if (cmd.info) {
      reply.info = {
        boots: pico.boots,
        resets: pico.resets,
        created: pico.created,
        stats: pico.stats,
        cpu_s: (() => {
          const u = process.cpuUsage();
          return (u.user + u.system) / 1e6;
        })(),
        flash_file: pico.flashFile.file,
      };
    }
    reply.t = pico.now;
    reply.powered = pico.powered;
    return reply;
  };

  const onMessage = (kind, payload) => {
    if (kind === 'D') {
      pico.writeCdc(new Uint8Array(payload));
      return;
    }
    if (kind !== 'J') throw new Error(`unknown message kind ${kind}`);
    const cmd = JSON.parse(payload.toString('utf8'));
    let reply;
    try {
      reply = handle(cmd);
    } catch (e) {
      reply = { error: `${e.message}`, t: pico.now, powered: pico.powered };
      process.stderr.write(`pico-emu: ${e.stack}\n`);
    }
    flushCdc();
    send('J', Buffer.from(JSON.stringify(reply), 'utf8'));
    if (cmd.quit) {
      pico.flashFile.close();
      output.end(() => process.exit(0));
    }
  };

  input.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readUInt32LE(0);
      if (buf.length < 4 + len) break;
      const kind = String.fromCharCode(buf[4]);
      const payload = buf.subarray(5, 4 + len);
      buf = buf.subarray(4 + len);
      onMessage(kind, payload);
    }
  });
  input.on('end', () => {
    pico.flashFile.close();
    process.exit(0);
  });
}
