import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Clock } from '../ports/clock.js';
import type { LogEvent, LogSink } from '../ports/logs.js';

/**
 * Output cap: at most 1 MiB of a function's own output is logged per invocation (and for its
 * init phase); past it one notice is logged and the rest is read and dropped, so the function
 * never blocks on a full pipe and the server's memory stays bounded.
 */
export const LOG_CAP_BYTES = 1024 * 1024;
/** A line or a log record longer than this is split (CloudWatch's event size is 256 KB). */
export const MAX_LINE_BYTES = 256 * 1024;
const TAIL_BYTES = 4096;

/** Lambda's telemetry frame header: type (text record), payload length, timestamp in microseconds. */
export const FRAME_TYPE_TEXT = 0xa55a0003;
/**
 * Stratus's own frame types (the Python runtime): a piece of what the function wrote to
 * sys.stderr (or sys.stdout), joined into lines of that stream as the bytes of a pipe are; an
 * empty one ends the unfinished line there (the end of init or of an invocation).
 */
export const FRAME_TYPE_STDOUT = 0xa55a0f01;
export const FRAME_TYPE_STDERR = 0xa55a0f02;
export const FRAME_HEADER_BYTES = 16;
/**
 * In-band frames (the Python runtime): a frame written among the text of stdout (or stderr) comes
 * after these bytes, so the runtime's records and stderr pieces keep their place among what it
 * prints and what its code and child processes write to the descriptor (one channel, read in the
 * order it was written). NUL bytes do not come in text, so nothing written there reads as one.
 */
export const INBAND_MAGIC = Buffer.from('\x00\xa5Z\x1eSTR\x00', 'latin1');

/** Application log levels, least to most severe (LoggingConfig.ApplicationLogLevel). */
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const INFO = LEVELS.indexOf('INFO');
/** Python's level names in its runtime's JSON records (logging's WARNING and CRITICAL). */
const ALIASES: Record<string, string> = { WARNING: 'WARN', CRITICAL: 'FATAL' };

/**
 * The level of a line a function wrote to stdout or stderr, as Lambda's log-level filtering reads
 * it (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html): a
 * JSON object's "level" (any case) when it also has a valid RFC 3339 "timestamp"; INFO when the
 * line is not one, its level is missing or invalid, or its timestamp is missing or not RFC 3339
 * ("If you don't supply a valid timestamp, Lambda will assign the log the level INFO and add a
 * timestamp for you": the line is logged as written, with the time it was logged at, as every
 * event is).
 */
export function lineLevel(message: string): number {
  return jsonLevel(message, true);
}

/**
 * The level of a runtime's own log record (a frame): its "level", whatever its timestamp. Lambda's
 * Python runtime writes its error records with one to the second and no zone
 * ("2026-12-07T10:06:21"), and they are logged at ERROR.
 */
export function recordLevel(message: string): number {
  return jsonLevel(message, false);
}

function jsonLevel(message: string, needTimestamp: boolean): number {
  const t = message.trimStart();
  if (t.charCodeAt(0) !== 123 /* { */) return INFO;
  try {
    const v: unknown = JSON.parse(t);
    if (v === null || typeof v !== 'object') return INFO;
    const { level, timestamp } = v as { level?: unknown; timestamp?: unknown };
    if (typeof level !== 'string' || (needTimestamp && !isRfc3339(timestamp))) return INFO;
    const name = level.toUpperCase();
    const i = LEVELS.indexOf(ALIASES[name] ?? name);
    return i < 0 ? INFO : i;
  } catch {
    return INFO;
  }
}

/** RFC 3339's date-time: full-date "T" partial-time time-offset ("T" and "Z" in either case). */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/** Whether `v` is an RFC 3339 date-time, its fields in their ranges (a leap second is 60). */
export function isRfc3339(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const m = RFC3339.exec(v);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const days = month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  if (month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 60) return false;
  return m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
}

class Channel {
  decoder = new StringDecoder('utf8');
  partial = '';
  /** Framed channel (the runtime's log descriptor): where its parser stands. */
  frames: FrameParser | null = null;
  /** A pipe that may carry in-band frames (INBAND_MAGIC): where the frame being read stands. */
  inband: FrameParser | null = null;
  /** In-band: inside a frame (its magic was read). */
  inFrame = false;
  /** In-band: the end of the last chunk, which may be the start of a magic. */
  carry: Buffer | null = null;
  constructor(readonly stream: Readable | null, framed = false) {
    if (framed) this.frames = new FrameParser();
  }

  /**
   * The pipe's descriptor while the stream holds it open, else null. Asked at each read, never
   * kept: once the stream is closed its number is another file's (a cgroup file opened since, say,
   * or another environment's pipe), whose bytes a drain would log as this function's output.
   */
  get fd(): number | null {
    const h = (this.stream as unknown as { _handle?: { fd?: number } | null } | null)?._handle;
    return h && typeof h.fd === 'number' && h.fd >= 0 ? h.fd : null;
  }
}

/**
 * Reads frames as a stream: a header, then the body, held only up to `MAX_LINE_BYTES` (what one
 * event can hold): a longer record is handed on in pieces of that size as it comes, each ending
 * on a whole UTF-8 character, so a record of any size costs bounded memory and linear time and
 * nothing of it is lost. Anything that is not a frame ends the channel: a descriptor the function
 * wrote garbage to is not resynchronised.
 */
class FrameParser {
  private header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  /** Body bytes of the current frame still to come; -1 between frames. */
  private left = -1;
  private type = 0;
  private ts = 0;
  private parts: Buffer[] = [];
  private kept = 0;
  /** No piece of the current frame was handed on yet. */
  private first = true;
  dead = false;

  /** Between frames (or dead): no frame begun. */
  get idle(): boolean { return this.left < 0 && this.headerFill === 0; }

  /**
   * Feeds a chunk from `start`; calls `piece` with each piece of a frame's body, in order: the
   * whole body when it fits in MAX_LINE_BYTES (an empty one too), else pieces of at most that
   * size, `last` on the frame's final one. `one`: stops after one frame. Returns where it stopped.
   */
  feed(chunk: Buffer, piece: (type: number, ts: number, body: Buffer, first: boolean, last: boolean) => void, start = 0, one = false): number {
    let p = start;
    while (p < chunk.length && !this.dead) {
      if (this.left < 0) {
        const n = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.length - p);
        chunk.copy(this.header, this.headerFill, p, p + n);
        this.headerFill += n;
        p += n;
        if (this.headerFill < FRAME_HEADER_BYTES) return p;
        this.headerFill = 0;
        this.type = this.header.readUInt32BE(0);
        if (this.type !== FRAME_TYPE_TEXT && this.type !== FRAME_TYPE_STDOUT && this.type !== FRAME_TYPE_STDERR) { this.dead = true; return p; }
        this.left = this.header.readUInt32BE(4);
        this.ts = Number(this.header.readBigUInt64BE(8) / 1000n);
        this.parts = [];
        this.kept = 0;
        this.first = true;
      }
      const n = Math.min(this.left, chunk.length - p, MAX_LINE_BYTES - this.kept);
      if (n > 0) {
        this.parts.push(chunk.subarray(p, p + n));
        this.kept += n;
      }
      p += n;
      this.left -= n;
      if (this.left === 0) {
        this.left = -1;
        piece(this.type, this.ts, this.take(), this.first, true);
        if (one) return p;
      } else if (this.kept === MAX_LINE_BYTES) {
        // A full event's worth and more to come: hand it on, up to its last whole character.
        const held = this.take();
        const cut = wholeChars(held);
        if (cut < held.length) {
          this.parts = [held.subarray(cut)];
          this.kept = held.length - cut;
        }
        piece(this.type, this.ts, held.subarray(0, cut), this.first, false);
        this.first = false;
      }
    }
    return p;
  }

  /** Ready for a new frame (in-band: after one that was not a frame). */
  reset(): void {
    this.dead = false;
    this.left = -1;
    this.headerFill = 0;
    this.parts = [];
    this.kept = 0;
  }

  /** The bytes held, as one buffer; nothing is held after. */
  private take(): Buffer {
    const body = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.kept);
    this.parts = [];
    this.kept = 0;
    return body;
  }
}

/**
 * How many bytes at the end of `b` (from `from` on) are the start of INBAND_MAGIC, less than all
 * of it.
 */
function magicStartAtEnd(b: Buffer, from: number): number {
  const min = Math.max(from, b.length - INBAND_MAGIC.length + 1);
  for (let i = min; i < b.length; i++) {
    if (b[i] === INBAND_MAGIC[0] && b.subarray(i).equals(INBAND_MAGIC.subarray(0, b.length - i))) return b.length - i;
  }
  return 0;
}

/**
 * A line cut into events of at most MAX_LINE_BYTES, newline included, counted in bytes (UTF-8, as
 * CloudWatch counts them), never inside a character; each piece but the last ends with a newline,
 * the last is the rest as it was. (Counted in characters, a line of 300,000 euro signs made an
 * event of 786,433 bytes.) Measured only when it may be that long: 3 bytes at most per UTF-16 unit.
 */
function eventSized(line: string): string[] {
  if (line.length * 3 < MAX_LINE_BYTES) return [line];
  const b = Buffer.from(line);
  const pieces: string[] = [];
  let at = 0;
  while (b.length - at > MAX_LINE_BYTES || (b.length - at === MAX_LINE_BYTES && b[b.length - 1] !== 10)) {
    const cut = charStart(b, at + MAX_LINE_BYTES - 1);
    pieces.push(b.toString('utf8', at, cut) + '\n');
    at = cut;
  }
  pieces.push(b.toString('utf8', at));
  return pieces;
}

/**
 * The start of the UTF-8 character at byte `n` of `b` (n itself when a character starts there),
 * looking back no further than byte `min`.
 */
function charStart(b: Buffer, n: number, min = 0): number {
  let i = n;
  while (i > min && (b[i]! & 0xc0) === 0x80) i--;
  return i;
}

/**
 * How much of `b` is whole UTF-8 characters: its length, less the bytes of a last character it
 * holds only the start of (bytes that are not UTF-8 go as they are: the decoder replaces them).
 */
function wholeChars(b: Buffer): number {
  // A character is 4 bytes at most: its lead is among the last 4.
  const i = charStart(b, b.length - 1, Math.max(0, b.length - 4));
  const lead = b[i] ?? 0;
  const size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i > 0 && i + size > b.length ? i : b.length;
}

/** Turns an environment's stdout/stderr into log events of its stream (and the invocation's tail). */
export class LogWriter {
  private group: string | null = null;
  private stream: string | null = null;
  private used = 0;
  private truncated = false;
  private tail: string[] | null = null;
  private tailLen = 0;
  private readonly channels: Channel[];
  private readonly drainBuf = Buffer.allocUnsafe(64 * 1024);
  /** The latest timestamp of the function's output: its events never go back in time (see `line`). */
  private lastTs = 0;
  /** Lines of stdout and stderr below this level are dropped (see `filterLevel`); -1: none are. */
  private minLevel = -1;
  /** The environment is going (see `end`): its processes' output is read and dropped. */
  private ended = false;

  /**
   * @param frames the runtime's framed log descriptor (shipped runtimes): each frame is one log
   *   event whatever newlines it holds, as records written to Lambda's telemetry descriptor are
   *   (one longer than an event is several, in order); stdout and stderr frames (pieces of the
   *   Python runtime's sys.stderr) are lines of that stream as a pipe's bytes are. With it,
   *   `out` and `err` may carry the same frames in-band (INBAND_MAGIC).
   */
  constructor(private readonly sink: LogSink, private readonly clock: Clock, out: Readable | null, err: Readable | null, frames: Readable | null = null) {
    this.channels = [new Channel(out), new Channel(err)];
    if (frames) {
      // A shipped runtime's pipes may carry in-band frames (the Python runtime's).
      for (const ch of this.channels) ch.inband = new FrameParser();
      this.channels.push(new Channel(frames, true));
    }
    for (const ch of this.channels) ch.stream?.on('data', (chunk: Buffer) => this.onData(ch, chunk));
  }

  /** Output before a stream is set (a prewarmed runtime) is read and dropped. */
  setStream(group: string, stream: string): void {
    this.group = group;
    this.stream = stream;
  }

  get streamName(): string | null { return this.stream; }

  /**
   * Lambda's log-level filtering of what a function writes to stdout and stderr, for the JSON log
   * format: each line has the level its JSON "level" gives it (with a valid "timestamp", see
   * lineLevel), INFO otherwise, and lines below the function's ApplicationLogLevel are dropped. The same holds for the lines of the Python
   * runtime's stderr frames; the runtimes' own log records are JSON with a level and filtered
   * where they are made already. Null: nothing is filtered.
   */
  filterLevel(applicationLogLevel: string | null): void {
    this.minLevel = applicationLogLevel ? LEVELS.indexOf(applicationLogLevel.toUpperCase()) : -1;
    this.json = applicationLogLevel !== null;
  }

  /** The JSON log format (filterLevel): each record on a line of its own in the tail. */
  private json = false;

  /**
   * A new accounting window: one invocation (START..REPORT). `carry`: the tail lines of what came
   * before that the window's tail starts with (a suppressed init's failed first attempt).
   */
  begin(wantTail: boolean, carry?: string): void {
    this.used = 0;
    this.truncated = false;
    this.tail = wantTail ? (carry ? [carry] : []) : null;
    this.tailLen = this.tail && carry ? carry.length : 0;
  }

  /** Lines the platform writes (START, END, REPORT, errors): not counted against the cap. */
  system(message: string): void {
    if (!this.stream) return;
    this.emit([{ timestamp: this.clock.now(), message }]);
  }

  /** The last 4 KB of this window's lines. */
  takeTail(): string | undefined {
    if (!this.tail) return undefined;
    const s = this.tail.join('');
    this.tail = null;
    const b = Buffer.from(s);
    if (b.length <= TAIL_BYTES) return s;
    // From the first whole character: one cut in two would come back as U+FFFD, 3 bytes more.
    let start = b.length - TAIL_BYTES;
    while (start < b.length && (b[start]! & 0xc0) === 0x80) start++;
    return b.subarray(start).toString();
  }

  /**
   * Reads whatever the runtime already wrote before it posted its response, so its output is
   * logged before END. The pipes are non-blocking: an empty pipe answers EAGAIN at once.
   */
  drainNow(): void {
    // EAGAIN is thrown as an Error: without stack capture the throw costs little
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try { this.drainChannels(); } finally { Error.stackTraceLimit = limit; }
  }

  private drainChannels(): void {
    for (const ch of this.channels) {
      for (let i = 0; i < 16; i++) {
        // Again at each read: onData may end the stream (a destroy closes its descriptor).
        const fd = ch.fd;
        if (fd === null) break;
        let n = 0;
        try { n = fs.readSync(fd, this.drainBuf, 0, this.drainBuf.length, null); } catch { break; }
        if (n <= 0) break;
        this.onData(ch, Buffer.from(this.drainBuf.subarray(0, n)));
        if (n < this.drainBuf.length) break;
      }
    }
  }

  /**
   * The environment is being shut down: what it wrote until now is logged, what its processes
   * write from here on is read and dropped. Lambda shuts an environment down without its runtime
   * noticing, so nothing of the runtime's follows the stream's last REPORT (the platform's own
   * lines still go in).
   */
  end(): void {
    if (this.ended) return;
    this.drainNow();
    this.flushPartial();
    this.ended = true;
  }

  /** Flushes partial lines (end of an invocation or of the process). */
  flushPartial(): void {
    const events: LogEvent[] = [];
    const ts = this.clock.now();
    // Frames' stdout and stderr pieces are lines of the stdout and stderr channels.
    for (const ch of this.channels) if (!ch.frames) this.endLine(ch, ts, events);
    if (events.length) this.emit(events);
  }

  /** Logs a channel's unfinished line as it is. */
  private endLine(ch: Channel, ts: number, events: LogEvent[]): void {
    if (ch.partial) {
      if (this.shown(ch.partial)) this.line(events, ts, ch.partial);
      ch.partial = '';
    }
  }

  private onData(ch: Channel, chunk: Buffer): void {
    if (ch.frames) return this.onFrames(ch, chunk);
    if (ch.inband) return this.onInband(ch, chunk);
    if (!this.stream || this.truncated || this.ended) return;
    const events: LogEvent[] = [];
    this.lines(ch, ch.decoder.write(chunk), this.clock.now(), events);
    if (events.length) this.emit(events);
  }

  /** A pipe's text with in-band frames among it (INBAND_MAGIC), each handled where it comes. */
  private onInband(ch: Channel, chunk: Buffer): void {
    const events: LogEvent[] = [];
    const parser = ch.inband!;
    const b = ch.carry ? Buffer.concat([ch.carry, chunk]) : chunk;
    ch.carry = null;
    const text = (from: number, to: number) => {
      if (to > from && this.stream && !this.truncated && !this.ended) this.lines(ch, ch.decoder.write(b.subarray(from, to)), this.clock.now(), events);
    };
    let p = 0;
    while (p < b.length) {
      if (ch.inFrame) {
        p = parser.feed(b, (type, ts, body, first, last) => this.piece(type, ts, body, first, last, events), p, true);
        if (parser.dead) parser.reset(); // not a frame after all: what follows is text
        if (parser.idle) ch.inFrame = false;
        continue;
      }
      // A magic starts with a NUL byte, which text has none of: most chunks are text only.
      const nul = b.indexOf(0, p);
      const at = nul < 0 ? -1 : b.indexOf(INBAND_MAGIC, nul);
      if (at < 0) {
        // The end may be the start of a magic: kept for the next chunk.
        const keep = nul < 0 ? 0 : magicStartAtEnd(b, Math.max(p, nul));
        text(p, b.length - keep);
        if (keep) ch.carry = Buffer.from(b.subarray(b.length - keep));
        break;
      }
      text(p, at);
      p = at + INBAND_MAGIC.length;
      ch.inFrame = true;
    }
    if (events.length) this.emit(events);
  }

  /** A channel's text, as it comes: each line one event, the unfinished rest kept for more. */
  private lines(ch: Channel, more: string, ts: number, events: LogEvent[]): void {
    const text = ch.partial + more;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const message = text.slice(start, nl + 1);
      if (message.length * 3 < MAX_LINE_BYTES) {
        if (this.shown(message)) this.line(events, ts, message);
      } else {
        for (const piece of eventSized(message)) if (!this.truncated && this.shown(piece)) this.line(events, ts, piece);
      }
      start = nl + 1;
      if (this.truncated) break;
    }
    ch.partial = this.truncated ? '' : text.slice(start);
    // An unfinished line as long as an event already goes as events (see eventSized); its rest waits.
    if (ch.partial.length * 3 >= MAX_LINE_BYTES && !this.truncated) {
      const pieces = eventSized(ch.partial);
      ch.partial = pieces.pop()!;
      for (const piece of pieces) if (!this.truncated && this.shown(piece)) this.line(events, ts, piece);
    }
    if (this.truncated) ch.partial = '';
  }

  private onFrames(ch: Channel, chunk: Buffer): void {
    const events: LogEvent[] = [];
    ch.frames!.feed(chunk, (type, ts, body, first, last) => this.piece(type, ts, body, first, last, events));
    if (events.length) this.emit(events);
  }

  /** A piece of a frame's body (see FrameParser.feed), from the log descriptor or in-band. */
  private piece(type: number, ts: number, body: Buffer, first: boolean, last: boolean, events: LogEvent[]): void {
    if (!this.stream || this.truncated || this.ended) return;
    if (type !== FRAME_TYPE_TEXT) {
      // What the function wrote to stdout or stderr, stamped when it was written: lines of that
      // stream, as on a pipe (joined with what came down the pipe itself).
      const out = this.channels[type === FRAME_TYPE_STDOUT ? 0 : 1]!;
      if (body.length) this.lines(out, out.decoder.write(body), ts, events);
      else this.endLine(out, ts, events);
      return;
    }
    const text = body.toString('utf8');
    // A record longer than one event goes in pieces of one event each, all of them: the
    // runtimes applied its level where they made it, and its JSON cannot be read without
    // holding all of it.
    if (first && last && !this.shown(text, true)) return;
    // The record as the runtime framed it: a JSON one has no newline at its end (the tail adds
    // one, see emit). An empty frame is an empty line: a log event is never empty.
    this.line(events, ts, text || '\n');
  }

  /** Whether a line of stdout or stderr (or a runtime's `record`) passes the log-level filter (`filterLevel`). */
  private shown(message: string, record = false): boolean {
    return this.minLevel < 0 || (record ? recordLevel(message) : lineLevel(message)) >= this.minLevel;
  }

  private line(events: LogEvent[], ts: number, message: string): void {
    if (this.truncated) return;
    // Frames are stamped when written and a pipe's text when read: a frame written after text
    // that was read with it would have the earlier time, and readers order events by time.
    if (ts < this.lastTs) ts = this.lastTs;
    else this.lastTs = ts;
    this.used += Buffer.byteLength(message);
    if (this.used > LOG_CAP_BYTES) {
      this.truncated = true;
      message = `[stratus] log output truncated: more than ${LOG_CAP_BYTES} bytes in this invocation; the rest is dropped\n`;
    }
    events.push({ timestamp: ts, message });
  }

  private emit(events: LogEvent[]): void {
    if (this.tail) {
      // The events as they are, one after the other: a text record framed without a newline (a
      // Python error record) runs into the next line in the tail, as it does in Lambda's
      // LogResult ("...raise ValueError('x')END RequestId: ..."). A JSON record (the JSON log
      // format) is a line of its own, as every record of a JSON LogResult is: read line by line,
      // each line parses (two records on one line did not, nor did the platform.report after them).
      for (const e of events) {
        const m = this.json && !e.message.endsWith('\n') ? `${e.message}\n` : e.message;
        this.tail.push(m);
        this.tailLen += m.length;
      }
      // Whole messages go once the rest still holds the last 4 KB (at least as many bytes as
      // characters); a long one that remains first keeps only its end.
      while (this.tail.length > 1 && this.tailLen - this.tail[0]!.length >= TAIL_BYTES) this.tailLen -= this.tail.shift()!.length;
      const first = this.tail[0];
      if (first !== undefined && this.tailLen > TAIL_BYTES * 2) {
        const cut = this.tailLen - TAIL_BYTES * 2;
        this.tail[0] = first.slice(cut);
        this.tailLen -= cut;
      }
    }
    this.sink.write(this.group!, this.stream!, events);
  }
}
