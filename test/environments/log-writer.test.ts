import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { FRAME_HEADER_BYTES, FRAME_TYPE_STDERR, FRAME_TYPE_STDOUT, FRAME_TYPE_TEXT, INBAND_MAGIC, isRfc3339, LOG_CAP_BYTES, lineLevel, LogWriter, MAX_LINE_BYTES, recordLevel } from '../../src/environments/log-writer.js';
import type { LogEvent } from '../../src/ports/logs.js';

function frame(text: string | Buffer, length?: number, type = FRAME_TYPE_TEXT): Buffer {
  const body = typeof text === 'string' ? Buffer.from(text) : text;
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h.writeUInt32BE(type, 0);
  h.writeUInt32BE(length ?? body.length, 4);
  h.writeBigUInt64BE(1_700_000_000_123_456n, 8);
  return Buffer.concat([h, body]);
}

function writer() {
  const events: LogEvent[] = [];
  const frames = new PassThrough();
  const w = new LogWriter({ write: (_g, _s, e) => { events.push(...e); } }, { now: () => 1 }, null, null, frames);
  w.setStream('/g', 's');
  w.begin(false);
  return { events, frames, w };
}

const settle = () => new Promise((r) => setImmediate(r));

/** `actual` is `expected` (long strings: a mismatch names where, not all of them). */
function sameText(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  assert.fail(`${what}: ${actual.length} characters for ${expected.length}, different from ${i}: ${JSON.stringify(actual.slice(i, i + 40))} for ${JSON.stringify(expected.slice(i, i + 40))}`);
}

test('framed log records: one event each as framed (no newline added), split anywhere, UTF-8 intact; the tail is the events as they are', async () => {
  const { events, frames, w } = writer();
  w.begin(true);
  const all = Buffer.concat([frame('a\nb'), frame('héllo ✓\n'), frame('')]);
  for (let i = 0; i < all.length; i++) frames.write(all.subarray(i, i + 1));
  await settle();
  assert.deepEqual(events.map((e) => e.message), ['a\nb', 'héllo ✓\n', '\n']);
  assert.equal(events[0]!.timestamp, 1_700_000_000_123);
  // As Lambda's LogResult: a record framed without a newline runs into the next.
  assert.equal(w.takeTail(), 'a\nbhéllo ✓\n\n');
});

test('a huge record costs bounded memory and linear time: events of 256 KB each up to the output cap, then the notice', async () => {
  const { events, frames, w } = writer();
  const size = 64 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  const t0 = performance.now();
  frames.write(frame(Buffer.alloc(0), size));
  for (let n = 0; n < size; n += chunk.length) frames.write(chunk);
  frames.write(frame('after'));
  await settle();
  const ms = performance.now() - t0;
  const pieces = LOG_CAP_BYTES / MAX_LINE_BYTES;
  assert.equal(events.length, pieces + 1);
  for (const e of events.slice(0, pieces)) sameText(e.message, 'x'.repeat(MAX_LINE_BYTES), 'a piece');
  assert.match(events[pieces]!.message, /log output truncated/);
  assert.ok(ms < 5000, `${ms} ms for 64 MB`);
  // The parser kept its place: the next window logs the next record.
  w.begin(false);
  frames.write(frame('next'));
  await settle();
  assert.equal(events.at(-1)!.message, 'next');
});

test('a record longer than one event: events of at most 256 KB, in order, each of whole UTF-8 characters, all of it', async () => {
  const { events, frames, w } = writer();
  // 'é' is 2 bytes and '✓' 3: the pads put the 256 KB cut inside a character, or just after one.
  const records = ['', 'a', 'ab'].flatMap((pad) => [pad + 'é'.repeat(150_000), pad + '✓'.repeat(100_000) + '\n']);
  records.push('y'.repeat(MAX_LINE_BYTES), 'z'.repeat(MAX_LINE_BYTES + 1));
  for (const r of records) {
    const f = frame(r);
    for (let i = 0; i < f.length; i += 100_000) frames.write(f.subarray(i, i + 100_000));
    await settle();
    w.begin(false); // one record an invocation: all of them below the output cap
  }
  for (const e of events) {
    assert.ok(Buffer.byteLength(e.message) <= MAX_LINE_BYTES);
    assert.ok(!e.message.includes('\ufffd'));
  }
  sameText(events.map((e) => e.message).join(''), records.join(''), 'the events');
  assert.ok(events.some((e) => Buffer.byteLength(e.message) > MAX_LINE_BYTES - 3 && Buffer.byteLength(e.message) < MAX_LINE_BYTES), 'a cut moved back to a character\'s start');
  assert.equal(events.filter((e) => e.message === 'y'.repeat(MAX_LINE_BYTES)).length, 1, 'a record of exactly 256 KB is one event');
  assert.deepEqual(events.slice(-2).map((e) => e.message.length), [MAX_LINE_BYTES, 1]);
});

test('a long record counts against the output cap as stdout does: cut at the cap, with the notice', async () => {
  const { events, frames } = writer();
  frames.write(frame('x'.repeat(LOG_CAP_BYTES - 10)));
  frames.write(frame('y'.repeat(20)));
  await settle();
  sameText(events.map((e) => e.message).slice(0, -1).join(''), 'x'.repeat(LOG_CAP_BYTES - 10), 'the events');
  assert.match(events.at(-1)!.message, /log output truncated/);
});

test('the JSON format: a record longer than one event is logged whatever its level (the runtime filtered it), a whole one is filtered', async () => {
  const { events, frames, w } = writer();
  w.filterLevel('WARN');
  const long = JSON.stringify({ level: 'ERROR', message: 'y'.repeat(300_000) });
  frames.write(Buffer.concat([frame(JSON.stringify({ level: 'INFO', message: 'dropped' })), frame(long)]));
  await settle();
  assert.equal(events.length, 2);
  sameText(events.map((e) => e.message).join(''), long, 'the events');
});

test('a stdout frame longer than one event (a writer that does not split its pieces) is joined into lines all the same', async () => {
  const { events, frames, w } = writer();
  const line = '✓'.repeat(100_000) + 'x'.repeat(300_000) + '\n';
  frames.write(Buffer.concat([frame(line, undefined, FRAME_TYPE_STDOUT), frame('tail', undefined, FRAME_TYPE_STDOUT)]));
  await settle();
  w.flushPartial();
  const messages = events.map((e) => e.message);
  sameText(messages.at(-1)!, 'tail', 'the next line');
  // A line of stdout longer than an event: pieces, each ended as a line.
  sameText(messages.slice(0, -1).map((m) => m.slice(0, -1)).join(''), line.slice(0, -1), 'the line');
  assert.ok(!messages.some((m) => m.includes('\ufffd')));
});

test('what is not a frame ends the channel; the other channels go on', async () => {
  const { events, frames } = writer();
  frames.write(frame('ok'));
  frames.write(Buffer.from('garbage that is not a frame header at all'));
  frames.write(frame('never'));
  await settle();
  assert.deepEqual(events.map((e) => e.message), ['ok']);
});

test('stdout and stderr frames: joined into lines as a pipe\'s bytes, each stream on its own; an empty one ends the line; the rest is flushed at the end', async () => {
  const { events, frames, w } = writer();
  const out = (t: string | Buffer) => frame(t, undefined, FRAME_TYPE_STDOUT);
  const err = (t: string | Buffer) => frame(t, undefined, FRAME_TYPE_STDERR);
  const check = Buffer.from('h\u00e9llo \u2713\n');
  frames.write(Buffer.concat([
    out('print'), out(' '), err('err '), frame('record'), out('1'), out('\n'), err('line\ntwo\nunfinished'),
    out(check.subarray(0, 2)), out(check.subarray(2, 9)), out(check.subarray(9)),
    out('ended'), out(''), out(''), err(' and more'),
  ]));
  await settle();
  assert.deepEqual(events.map((e) => e.message), ['record', 'print 1\n', 'err line\n', 'two\n', 'h\u00e9llo \u2713\n', 'ended']);
  assert.equal(events[0]!.timestamp, 1_700_000_000_123);
  w.flushPartial();
  assert.equal(events.at(-1)!.message, 'unfinished and more');
});

test('end: what was written until then is logged (an unfinished line too), what comes after is read and dropped; platform lines still go in', async () => {
  const events: LogEvent[] = [];
  const [out, frames] = [new PassThrough(), new PassThrough()];
  const w = new LogWriter({ write: (_g, _s, e) => { events.push(...e); } }, { now: () => 1 }, out, null, frames);
  w.setStream('/g', 's');
  w.begin(false);
  out.write('before\nunfinished');
  frames.write(frame('record'));
  await settle();
  w.end();
  out.write(' more\ncurl: (52) Empty reply from server\n');
  frames.write(Buffer.concat([frame('Unexpected Top Level Error'), frame('late', undefined, FRAME_TYPE_STDERR)]));
  await settle();
  w.flushPartial();
  w.system('REPORT RequestId: x\n');
  assert.deepEqual(events.map((e) => e.message), ['before\n', 'record', 'unfinished', 'REPORT RequestId: x\n']);
});

test('a stdout line longer than an event: events of at most 256 KB counted in bytes, newline included, of whole characters, all of it; the cap counts bytes', async () => {
  for (const line of ['€'.repeat(300_000), 'x'.repeat(MAX_LINE_BYTES - 1), 'a' + '✓'.repeat(200_000) + 'é'.repeat(10)]) {
    const events: LogEvent[] = [];
    const out = new PassThrough();
    const w = new LogWriter({ write: (_g, _s, e) => { events.push(...e); } }, { now: () => 1 }, out, null);
    w.setStream('/g', 's');
    w.begin(false);
    // As a pipe gives it: in reads of 64 KiB, cut anywhere (inside characters too).
    const all = Buffer.from(line + '\n');
    for (let i = 0; i < all.length; i += 65536) out.write(all.subarray(i, i + 65536));
    await settle();
    for (const e of events) assert.ok(Buffer.byteLength(e.message) <= MAX_LINE_BYTES, `an event of ${Buffer.byteLength(e.message)} bytes`);
    assert.ok(events.every((e) => !e.message.includes('\uFFFD')), 'a character cut in two');
    sameText(events.map((e) => e.message.slice(0, -1)).join(''), line, 'the events joined');
    // 900 KB of euro signs is within 1 MiB of output; 600,000 characters of them would not be.
    assert.ok(!events.some((e) => e.message.includes('log output truncated')));
  }
  const events: LogEvent[] = [];
  const out = new PassThrough();
  const w = new LogWriter({ write: (_g, _s, e) => { events.push(...e); } }, { now: () => 1 }, out, null);
  w.setStream('/g', 's');
  w.begin(false);
  out.write(Buffer.from('€'.repeat(400_000) + '\n'));
  await settle();
  assert.ok(events.some((e) => e.message.includes('log output truncated')), '1.2 MB of output was not capped');
  assert.ok(events.reduce((n, e) => n + Buffer.byteLength(e.message), 0) <= LOG_CAP_BYTES + 4096);
});

/** A writer of a shipped runtime (a log descriptor) whose stdout carries in-band frames. */
function inbandWriter() {
  const events: LogEvent[] = [];
  const [out, frames] = [new PassThrough(), new PassThrough()];
  const w = new LogWriter({ write: (_g, _s, e) => { events.push(...e); } }, { now: () => 1 }, out, null, frames);
  w.setStream('/g', 's');
  w.begin(false);
  return { events, out, w };
}

const inband = (t: string | Buffer, type = FRAME_TYPE_TEXT) => Buffer.concat([INBAND_MAGIC, frame(t, undefined, type)]);

test('in-band frames among a pipe\'s text: each logged where it was written, whatever the reads cut (magic, header, body); text that begins like a magic stays text', async () => {
  const stream = Buffer.concat([
    Buffer.from('a 1\n'), inband('record\nwith newline'), Buffer.from('b '), inband('err ', FRAME_TYPE_STDERR), Buffer.from('2\n'),
    inband('line\n', FRAME_TYPE_STDERR), Buffer.from('\x00\xa5Z not a magic\n', 'latin1'), Buffer.from('unfinished'),
    inband('', FRAME_TYPE_STDOUT), inband('h\u00e9', FRAME_TYPE_STDOUT), Buffer.from('llo \u2713\n'), Buffer.from('\x00\xa5'.repeat(3), 'latin1'),
    Buffer.from('tail'),
  ]);
  const expected = ['a 1\n', 'record\nwith newline', 'b 2\n', 'err line\n', '\u0000\ufffdZ not a magic\n', 'unfinished', 'h\u00e9llo \u2713\n', '\u0000\ufffd'.repeat(3) + 'tail'];
  for (const size of [stream.length, 1, 2, 3, 5, 7, 8, 9, 17]) {
    const { events, out, w } = inbandWriter();
    for (let i = 0; i < stream.length; i += size) out.write(stream.subarray(i, i + size));
    await settle();
    w.flushPartial();
    assert.deepEqual(events.map((e) => e.message), expected, `read ${size} bytes at a time`);
    // Text is stamped when read (1 here), frames when written: no event goes back in time.
    assert.deepEqual(events.map((e) => e.timestamp), [1, ...Array(expected.length - 1).fill(1_700_000_000_123)]);
  }
});

test('in-band: a magic without a frame header after it is dropped with the header\'s bytes; a long record is events of 256 KB; the output cap keeps the parser in place', async () => {
  const { events, out, w } = inbandWriter();
  out.write(Buffer.concat([INBAND_MAGIC, Buffer.from('not a frame header'), Buffer.from('after\n')]));
  await settle();
  assert.deepEqual(events.map((e) => e.message), ['erafter\n']);
  events.length = 0;
  const long = 'r'.repeat(MAX_LINE_BYTES + 10);
  out.write(Buffer.concat([inband(long), Buffer.from('x'.repeat(LOG_CAP_BYTES) + '\n'), inband('dropped'), Buffer.from('dropped too\n')]));
  await settle();
  assert.deepEqual(events.slice(0, 2).map((e) => e.message), [long.slice(0, MAX_LINE_BYTES), 'r'.repeat(10)]);
  assert.match(events.at(-1)!.message, /log output truncated/);
  assert.ok(!events.some((e) => e.message.startsWith('dropped')));
  events.length = 0;
  w.begin(false);
  const record = inband('next record');
  out.write(Buffer.concat([Buffer.from('next\n'), record.subarray(0, 20)]));
  out.write(record.subarray(20));
  await settle();
  assert.deepEqual(events.map((e) => e.message), ['next\n', 'next record']);
});

test('a custom runtime\'s pipes (no log descriptor) carry text only: a magic is text', async () => {
  const events: LogEvent[] = [];
  const out = new PassThrough();
  const w = new LogWriter({ write: (_g, _s, e) => { events.push(...e); } }, { now: () => 1 }, out, null);
  w.setStream('/g', 's');
  w.begin(false);
  out.write(inband('x'));
  out.write('\n');
  await settle();
  const text = events.map((e) => e.message).join('');
  assert.ok(text.startsWith('\u0000\ufffdZ\u001eSTR\u0000') && text.endsWith('x\n'), JSON.stringify(text));
});

test('RFC 3339 date-times: the grammar, "T" and "Z" in either case, fields in their ranges', () => {
  const cases: Array<[unknown, boolean]> = [
    ['2024-11-02T16:51:31.587199Z', true], ['2024-11-02T16:51:31Z', true], ['2024-11-02t16:51:31z', true],
    ['2024-11-02T16:51:31+05:30', true], ['2024-11-02T16:51:31.5-00:00', true], ['2024-02-29T00:00:00Z', true],
    ['2016-12-31T23:59:60Z', true],
    ['2026-12-07T10:06:21', false], ['2024-11-02 16:51:31Z', false], ['2024-11-02', false], ['2024-11-02T16:51Z', false],
    ['2023-02-29T00:00:00Z', false], ['2024-04-31T00:00:00Z', false], ['2024-13-01T00:00:00Z', false], ['2024-11-02T24:00:00Z', false],
    ['2024-11-02T16:60:00Z', false], ['2024-11-02T16:51:61Z', false], ['2024-11-02T16:51:31+24:00', false], ['2024-11-02T16:51:31.Z', false],
    ['2024-11-02T16:51:31+0530', false], [' 2024-11-02T16:51:31Z', false], [1730566291, false], [null, false], [undefined, false],
  ];
  for (const [v, ok] of cases) assert.equal(isRfc3339(v), ok, JSON.stringify(v));
});

test('levels: a stdout or stderr line has its JSON "level" only with a valid RFC 3339 "timestamp", INFO otherwise; a runtime\'s record has its level whatever its timestamp', () => {
  const [DEBUG, INFO, WARN, ERROR] = [1, 2, 3, 4];
  const ts = '"timestamp": "2024-11-02T16:51:31.587199Z"';
  const cases: Array<[string, number, number]> = [
    // line, its level as a line of stdout or stderr, as a record
    [`{"level": "debug", "msg": "x", ${ts}}`, DEBUG, DEBUG],
    ['{"level": "debug", "msg": "x"}', INFO, DEBUG],
    ['{"level": "Warn", "msg": "x", "timestamp": "yesterday"}', INFO, WARN],
    ['{"level": "ERROR", "msg": "x", "timestamp": 1730566291587}', INFO, ERROR],
    ['{"timestamp": "2026-12-07T10:06:21", "level": "ERROR", "errorMessage": "boom"}', INFO, ERROR],
    [`{"level": "WARNING", ${ts}}`, WARN, WARN],
    [`{"level": "loud", ${ts}}`, INFO, INFO],
    [`{"msg": "no level", ${ts}}`, INFO, INFO],
    ['plain text', INFO, INFO],
    [`[{"level": "error", ${ts}}]`, INFO, INFO],
  ];
  for (const [line, asLine, asRecord] of cases) {
    assert.equal(lineLevel(line), asLine, `line ${line}`);
    assert.equal(recordLevel(line), asRecord, `record ${line}`);
  }
});

test('the JSON format at INFO: a line with a level but no valid timestamp is INFO and logged as written; a record keeps its level', async () => {
  const { events, out, w } = inbandWriter();
  w.filterLevel('INFO');
  const ts = '"timestamp": "2024-11-02T16:51:31Z"';
  out.write(Buffer.concat([
    Buffer.from(`{"level": "debug", "msg": "x"}\n{"level": "debug", "msg": "dropped", ${ts}}\n`),
    inband('{"level": "DEBUG", "message": "a debug record", "timestamp": "2026-12-07T10:06:21"}'),
    inband('{"level": "debug", "msg": "stderr no timestamp"}\n', FRAME_TYPE_STDERR),
  ]));
  await settle();
  assert.deepEqual(events.map((e) => e.message), ['{"level": "debug", "msg": "x"}\n', '{"level": "debug", "msg": "stderr no timestamp"}\n']);
  events.length = 0;
  w.filterLevel('ERROR');
  out.write(Buffer.concat([
    inband('{"timestamp": "2026-12-07T10:06:21", "level": "ERROR", "errorMessage": "boom"}'),
    Buffer.from('{"timestamp": "2026-12-07T10:06:21", "level": "ERROR", "msg": "printed"}\n'),
    Buffer.from(`{"level": "error", "msg": "printed", ${ts}}\n`),
  ]));
  await settle();
  assert.deepEqual(events.map((e) => e.message), ['{"timestamp": "2026-12-07T10:06:21", "level": "ERROR", "errorMessage": "boom"}', `{"level": "error", "msg": "printed", ${ts}}\n`]);
});

test('a drain after the pipe closed reads nothing: its descriptor\'s number, now another file\'s, is not read as the function\'s output', async () => {
  const [a, b] = await socketPair();
  const events: LogEvent[] = [];
  const w = new LogWriter({ write: (_g, _s, e) => { events.push(...e); } }, { now: () => 1 }, a, null);
  w.setStream('/g', 's');
  w.begin(false);
  b.write('before\n');
  for (let i = 0; i < 200 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const fd = (a as unknown as { _handle: { fd: number } })._handle.fd;
  a.destroy();
  b.destroy();
  // The pipe's number, closed just now, goes to a file (as to a cgroup file opened after an
  // environment's exit): opened until it gets that number (lower free ones are taken first).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-lw-'));
  const file = path.join(dir, 'peak');
  fs.writeFileSync(file, '9478144\n');
  const opened: number[] = [];
  try {
    while (opened.length < 100 && !opened.includes(fd)) opened.push(fs.openSync(file, 'r'));
    assert.ok(opened.includes(fd), 'the closed pipe\'s number went to the file');
    w.drainNow();
    w.flushPartial();
    assert.deepEqual(events.map((e) => e.message), ['before\n']);
  } finally {
    for (const o of opened) fs.closeSync(o);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Two connected Unix sockets, as a runtime's stdout pipe and the server's end of it. */
function socketPair(): Promise<[net.Socket, net.Socket]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-lw-'));
  const sock = path.join(dir, 's');
  return new Promise((resolve) => {
    let outer: net.Socket;
    const server = net.createServer((inner) => { server.close(() => fs.rmSync(dir, { recursive: true, force: true })); resolve([inner, outer]); });
    server.listen(sock, () => { outer = net.connect(sock); });
  });
}
