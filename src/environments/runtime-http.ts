import net from 'node:net';

/**
 * A small HTTP/1.1 server for the Runtime API, which is local, tiny and on the hot path of every
 * invocation. node:http answers each request with its own write and flushes pipelined responses
 * one write callback apart; here responses queued in the same tick go out in one write, so the
 * acknowledgement of a result and the next event reach the runtime together.
 *
 * What it understands: request line and headers (1 MiB at most), bodies with Content-Length or
 * Transfer-Encoding: chunked (with trailers), `Expect: 100-continue`, keep-alive and pipelining
 * (responses in request order), `Connection: close`, HTTP/1.0. Anything else is answered with 400
 * and the connection is closed. A handler may pause a request's body (flow control: past a small
 * read-ahead the connection is not read meanwhile, so the sender's writes block once the socket
 * buffers are full).
 */

const MAX_HEAD = 1024 * 1024;
/**
 * How much of a paused body's connection is still read (held, not parsed): enough that a sender
 * which closes its connection with no more than this unsent is seen to close while its body is
 * held back (a paused socket reads nothing, not even the end of its stream), little enough that a
 * held-back stream costs the server about this much.
 */
const READ_AHEAD = 1024 * 1024;
/** The end of a head: a blank line, its line ends CRLF or (as Go's net/http, Lambda's own Runtime API, takes them) a bare LF. */
const HEAD_END_CRLF = Buffer.from('\n\r\n');
const HEAD_END_LF = Buffer.from('\n\n');
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n');
const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  413: 'Payload Too Large', 500: 'Internal Server Error',
};

export interface RtRequest {
  readonly method: string;
  readonly url: string;
  /** Lower-case names; repeated headers joined with ', '. */
  readonly headers: Readonly<Record<string, string>>;
  /** Chunked-body trailers, known once the body ended. */
  readonly trailers: Readonly<Record<string, string>>;
  /** Body chunks as they arrive, then the end. Set both before returning from the handler. */
  onData: ((chunk: Buffer) => void) | null;
  onEnd: (() => void) | null;
  /**
   * Stops delivering the body, and (past READ_AHEAD) reading the connection, until resume(): what
   * the runtime sends meanwhile waits in the socket buffers, then its writes block. Requests
   * pipelined behind this one wait too. No effect on a request without a body, or once its body
   * ended. If the connection closes meanwhile, what was read is delivered (and may end the body)
   * before the close is reported, as it would have been had the body not been paused.
   */
  pause(): void;
  /** Delivers the body again after pause(). Without onData it is discarded (the default). */
  resume(): void;
}

export interface RtResponse {
  /** Sends the response (written with whatever else is sent in this tick). Ignored once sent. */
  send(status: number, headers: readonly string[], body?: Buffer | string): void;
  /** Closes the connection without an answer. */
  destroy(): void;
  /** Called once if the connection closes before this response was sent. */
  onClose: (() => void) | null;
  readonly sent: boolean;
}

export type RtHandler = (req: RtRequest, res: RtResponse) => void;

interface Slot {
  chunks: Buffer[] | null; // null until sent
  closeAfter: boolean;
  res: Response;
}

class Request implements RtRequest {
  trailers: Record<string, string> = {};
  onData: ((chunk: Buffer) => void) | null = null;
  onEnd: (() => void) | null = null;
  ended = false;
  constructor(private readonly conn: Connection, readonly method: string, readonly url: string, readonly headers: Record<string, string>) {}
  pause(): void {
    this.conn.pauseBody(this);
  }
  resume(): void {
    this.conn.resumeBody(this);
  }
}

class Response implements RtResponse {
  sent = false;
  onClose: (() => void) | null = null;
  constructor(private readonly conn: Connection, private readonly slot: Slot) {}

  send(status: number, headers: readonly string[], body?: Buffer | string): void {
    if (this.sent || this.conn.closed) return;
    this.sent = true;
    const b = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n`;
    for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    head += `Content-Length: ${b ? b.length : 0}\r\n`;
    if (this.slot.closeAfter) head += 'Connection: close\r\n';
    head += '\r\n';
    // UTF-8: header values are the caller's bytes (a client context or a Cognito identity may hold
    // any character), which Lambda's runtime clients read as UTF-8; the rest is ASCII.
    this.slot.chunks = b && b.length ? [Buffer.from(head, 'utf8'), b] : [Buffer.from(head, 'utf8')];
    this.conn.flush();
  }

  destroy(): void {
    this.conn.destroy();
  }

  closed(): void {
    if (!this.sent) {
      const f = this.onClose;
      this.onClose = null;
      f?.();
    }
  }
}

type BodyState =
  | { kind: 'none' }
  | { kind: 'length'; left: number }
  | { kind: 'chunked'; phase: 'size' | 'data' | 'crlf' | 'trailers'; left: number };

class Connection {
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private body: BodyState = { kind: 'none' };
  private req: Request | null = null;
  private readonly slots: Slot[] = [];
  private flushScheduled = false;
  /** The current request's body is paused (RtRequest.pause): nothing more is parsed, little read. */
  private paused = false;
  /** What was read while paused, after `buf`: kept apart so that it is joined once, on resume. */
  private ahead: Buffer[] = [];
  private aheadBytes = 0;

  constructor(private readonly socket: net.Socket, private readonly handler: RtHandler) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => this.lost());
    socket.on('close', () => this.lost());
  }

  private onData(d: Buffer): void {
    if (this.paused) return this.readAhead(d);
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    this.run();
  }

  /**
   * Paused, the connection is still read up to READ_AHEAD, so that its end can be seen: a runtime
   * that closes it mid-body has its response cut at once, even while its client is stalled.
   */
  private readAhead(d: Buffer): void {
    this.ahead.push(d);
    this.aheadBytes += d.length;
    if (this.aheadBytes >= READ_AHEAD) this.socket.pause();
  }

  /** Moves what was read ahead into the parser's buffer. */
  private takeAhead(): void {
    this.aheadBytes = 0;
    if (this.ahead.length === 0) return;
    this.buf = Buffer.concat([this.buf, ...this.ahead]);
    this.ahead = [];
  }

  /**
   * The connection closed (or failed) on the runtime's side. What it sent first is delivered
   * first, paused or not: a body that ended before the close ends as such, one that did not is
   * reported cut (its response's onClose), as when its handler keeps up.
   */
  private lost(): void {
    if (!this.closed && this.paused) {
      this.paused = false;
      this.takeAhead();
      this.run();
    }
    this.destroy();
  }

  private run(): void {
    try {
      this.parse();
    } catch {
      this.fail();
    }
  }

  private parse(): void {
    while (!this.closed && !this.paused && this.buf.length > 0) {
      if (!this.req) {
        const found = headEnd(this.buf);
        if (found === null) {
          if (this.buf.length > MAX_HEAD) return this.fail();
          return;
        }
        const [end, next] = found;
        if (end > MAX_HEAD) return this.fail();
        const head = this.buf.toString('latin1', 0, end);
        this.buf = this.buf.subarray(next);
        if (!this.startRequest(head)) return this.fail();
        continue;
      }
      if (!this.readBody()) return;
    }
    // A request without body may complete with nothing left in the buffer.
    if (this.req && this.body.kind === 'none') this.endRequest();
  }

  /** Parses a request head; false when malformed. */
  private startRequest(head: string): boolean {
    // Lines end with CRLF or a bare LF; a header's CR goes with the trimming of its value.
    const lines = head.split('\n');
    const m = /^([A-Z]+) (\S+) HTTP\/1\.([01])\r?$/.exec(lines[0] ?? '');
    if (!m) return false;
    // An absolute-form target (RFC 9112 3.2.2: a server must accept it) is routed on its path.
    const abs = /^https?:\/\/[^/?#]*/i.exec(m[2]!);
    const target = abs ? (m[2]!.slice(abs[0].length) || '/') : m[2]!;
    if (!target.startsWith('/')) return false;
    const headers: Record<string, string> = Object.create(null);
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const c = line.indexOf(':');
      if (c <= 0) return false;
      const k = line.slice(0, c).trim().toLowerCase();
      const v = line.slice(c + 1).trim();
      const prev = headers[k];
      headers[k] = prev === undefined ? v : `${prev}, ${v}`;
    }
    const http10 = m[3] === '0';
    const conn = (headers.connection ?? '').toLowerCase();
    const closeAfter = conn.includes('close') || (http10 && !conn.includes('keep-alive'));
    const req = new Request(this, m[1]!, target, headers);
    const te = headers['transfer-encoding'];
    if (te !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(te)) return false;
      this.body = { kind: 'chunked', phase: 'size', left: 0 };
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!/^\d+$/.test(headers['content-length']) || !Number.isSafeInteger(n)) return false;
      this.body = n > 0 ? { kind: 'length', left: n } : { kind: 'none' };
    } else {
      this.body = { kind: 'none' };
    }
    const slot: Slot = { chunks: null, closeAfter, res: null as unknown as Response };
    const res = new Response(this, slot);
    slot.res = res;
    this.slots.push(slot);
    this.req = req;
    // 100 Continue only when no earlier response is still owed (it must not overtake one).
    if (this.body.kind !== 'none' && /100-continue/i.test(headers.expect ?? '') && this.slots.length === 1) this.socket.write(CONTINUE);
    this.handler(req, res);
    return true;
  }

  /** Consumes body bytes from the buffer; false when more input is needed. */
  private readBody(): boolean {
    const b = this.body;
    if (b.kind === 'none') {
      this.endRequest();
      return true;
    }
    if (b.kind === 'length') {
      const n = Math.min(b.left, this.buf.length);
      if (n > 0) {
        const chunk = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        b.left -= n;
        this.emit(chunk);
      }
      // Its last byte delivered, a body ends, paused or not (nothing is left to hold back).
      if (b.left === 0) {
        this.endRequest();
        return true;
      }
      return false;
    }
    for (;;) {
      if (b.phase === 'size') {
        const nl = this.buf.indexOf('\r\n');
        if (nl < 0) {
          if (this.buf.length > 1024) throw new Error('chunk size line too long');
          return false;
        }
        const line = this.buf.toString('latin1', 0, nl);
        const size = parseInt(line.split(';')[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0 || !/^[0-9a-fA-F]+/.test(line.trim())) throw new Error('bad chunk size');
        this.buf = this.buf.subarray(nl + 2);
        if (size === 0) b.phase = 'trailers';
        else { b.phase = 'data'; b.left = size; }
        continue;
      }
      if (b.phase === 'data') {
        const n = Math.min(b.left, this.buf.length);
        if (n === 0) return false;
        const chunk = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        b.left -= n;
        if (b.left === 0) b.phase = 'crlf';
        this.emit(chunk);
        if (this.paused || b.left > 0) return false;
        continue;
      }
      if (b.phase === 'crlf') {
        if (this.buf.length < 2) return false;
        if (this.buf[0] !== 13 || this.buf[1] !== 10) throw new Error('missing chunk CRLF');
        this.buf = this.buf.subarray(2);
        b.phase = 'size';
        continue;
      }
      // trailers: lines until an empty line
      const nl = this.buf.indexOf('\r\n');
      if (nl < 0) {
        if (this.buf.length > MAX_HEAD) throw new Error('trailers too long');
        return false;
      }
      const line = this.buf.toString('latin1', 0, nl);
      this.buf = this.buf.subarray(nl + 2);
      if (line === '') {
        this.endRequest();
        return true;
      }
      const c = line.indexOf(':');
      if (c > 0 && this.req) this.req.trailers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
  }

  private emit(chunk: Buffer): void {
    // A view, not a copy: socket reads arrive in buffers of their own and the parser only
    // re-slices or concatenates them, never writes into one it has handed out.
    this.req?.onData?.(chunk);
  }

  /**
   * RtRequest.pause: the parser stops at the next chunk boundary, the socket is read ahead only.
   * Not once the socket is gone: what it read is being delivered (see lost).
   */
  pauseBody(req: Request): void {
    if (req !== this.req || req.ended || this.body.kind === 'none' || this.paused || this.closed || this.socket.destroyed) return;
    this.paused = true;
    // Already read and not parsed: counted in the read-ahead.
    this.aheadBytes = this.buf.length;
    if (this.aheadBytes >= READ_AHEAD) this.socket.pause();
  }

  resumeBody(req: Request): void {
    if (req !== this.req || !this.paused) return;
    this.unpause();
    // What was read before the pause is parsed in a tick of its own: the handler that resumed is
    // not re-entered with the next chunk.
    process.nextTick(() => {
      if (!this.paused) this.run();
    });
  }

  private unpause(): void {
    this.paused = false;
    this.takeAhead();
    if (!this.closed) this.socket.resume();
  }

  private endRequest(): void {
    const req = this.req;
    this.req = null;
    this.body = { kind: 'none' };
    if (this.paused) this.unpause();
    if (req && !req.ended) {
      req.ended = true;
      req.onEnd?.();
    }
  }

  /** Writes, in request order, every response that is ready; coalesced per tick. */
  flush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      if (this.closed) return;
      const out: Buffer[] = [];
      let close = false;
      while (this.slots.length && this.slots[0]!.chunks) {
        const s = this.slots.shift()!;
        out.push(...s.chunks!);
        if (s.closeAfter) { close = true; break; }
      }
      if (out.length === 0) return;
      if (out.length === 1) this.socket.write(out[0]!);
      else {
        this.socket.cork();
        for (const b of out) this.socket.write(b);
        this.socket.uncork();
      }
      if (close) this.socket.end(() => this.destroy());
    });
  }

  private fail(): void {
    if (this.closed) return;
    const msg = '{"errorMessage":"Malformed request","errorType":"BadRequest"}';
    this.socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${msg.length}\r\nConnection: close\r\n\r\n${msg}`);
    this.closed = true;
    this.onClosed();
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
    this.onClosed();
  }

  private onClosed(): void {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const s of slots) s.res.closed();
    const req = this.req;
    this.req = null;
    if (req && !req.ended) {
      // The body never completed: the handler learns it through its response's onClose.
      req.ended = true;
    }
  }
}

/**
 * A listener whose connections speak the subset above. `accept` decides whether a connection is
 * served; when its answer is a promise, the connection is held unread until it settles (and
 * dropped if it closed meanwhile, or the server did).
 */
export class RtServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Connections whose admission is pending. */
  private readonly pending = new Set<net.Socket>();
  private closed = false;

  constructor(private readonly handler: RtHandler, private readonly accept: (s: net.Socket) => boolean | Promise<boolean> = () => true) {
    // Paused on connect: nothing is read from a connection before it is admitted.
    this.server = net.createServer({ pauseOnConnect: true }, (s) => {
      const ok = this.accept(s);
      if (typeof ok === 'boolean') return this.decided(s, ok);
      this.pending.add(s);
      s.on('error', () => s.destroy());
      s.once('close', () => this.pending.delete(s));
      ok.then((yes) => this.decided(s, yes), () => this.decided(s, false));
    });
  }

  private decided(s: net.Socket, ok: boolean): void {
    this.pending.delete(s);
    if (!ok || this.closed || s.destroyed) {
      s.destroy();
      return;
    }
    this.adopt(s);
    s.resume();
  }

  /** Serves a connection made elsewhere (a runtime's channel, LaunchSpec.apiChannel) as if accepted. */
  adopt(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    new Connection(s, this.handler);
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  close(): void {
    this.closed = true;
    this.server.close();
    for (const s of [...this.sockets, ...this.pending]) s.destroy();
    this.sockets.clear();
    this.pending.clear();
  }
}

/**
 * Where the head at the start of `buf` ends: [its length without the blank line, where what
 * follows it begins], or null while it has not ended. The first blank line ends it, whichever
 * line ends it uses: a CRLF head's blank line is found by the first search, and the second only
 * looks before it for a bare-LF one.
 */
function headEnd(buf: Buffer): [number, number] | null {
  const crlf = buf.indexOf(HEAD_END_CRLF);
  const lf = (crlf < 0 ? buf : buf.subarray(0, crlf + 1)).indexOf(HEAD_END_LF);
  if (lf >= 0) return [lf > 0 && buf[lf - 1] === 0x0d ? lf - 1 : lf, lf + 2];
  if (crlf >= 0) return [crlf > 0 && buf[crlf - 1] === 0x0d ? crlf - 1 : crlf, crlf + 3];
  return null;
}
