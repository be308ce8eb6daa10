import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { FRAME_HEADER_BYTES, FRAME_TYPE_STDERR, FRAME_TYPE_STDOUT, FRAME_TYPE_TEXT, LOG_CAP_BYTES, LogWriter, MAX_LINE_BYTES } from '../../src/environments/log-writer.js';
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

test('a huge record costs bounded memory and linear time: its first 256 KB are logged', async () => {
  const { events, frames } = writer();
  const size = 64 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  const t0 = performance.now();
  frames.write(frame(Buffer.alloc(0), size));
  for (let n = 0; n < size; n += chunk.length) frames.write(chunk);
  frames.write(frame('after'));
  await settle();
  const ms = performance.now() - t0;
  assert.equal(events.length, 2);
  assert.equal(events[0]!.message.length, MAX_LINE_BYTES);
  assert.equal(events[1]!.message, 'after');
  assert.ok(ms < 5000, `${ms} ms for 64 MB`);
  assert.ok(LOG_CAP_BYTES >= MAX_LINE_BYTES);
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
