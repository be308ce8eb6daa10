'use strict';
// A small HTTP/1.1 keep-alive client over one net.Socket, for the Lambda Runtime API only.
// Requests are sequential (one in flight), or a pipelined pair answered in order. Responses with Content-Length, chunked
// bodies (trailers are read and dropped) or read-until-close are understood. The socket is
// unref'd while no request is in flight so that an idle runtime does not keep the event loop
// alive (the callback programme model relies on 'beforeExit').
const fs = require('node:fs');
const net = require('node:net');

const EMPTY = Buffer.alloc(0);

class HttpError extends Error {}

/**
 * A connected socket the runtime was started with, or null when that descriptor is not one.
 * Unref'd: until a request is in flight it does not keep the event loop alive. Its failures
 * before the Connection takes it surface there (a destroyed channel: TCP instead).
 */
function openDescriptor(fd) {
  try {
    if (!Number.isInteger(fd) || fd < 3 || !fs.fstatSync(fd).isSocket()) return null;
    const s = new net.Socket({ fd, readable: true, writable: true });
    s.unref();
    s.on('error', () => {});
    return s;
  } catch {
    return null;
  }
}

class Connection {
  /**
   * @param {string} hostPort host:port (also the Host header)
   * @param {{socket?: net.Socket | null, path?: string | null}} [via] the platform's own
   *   connection to the same API (openDescriptor of its channel, see runtimes/PROTOCOL.md), used
   *   first; or a Unix socket path (the warm-up's). TCP to hostPort otherwise, and whenever the
   *   channel is gone.
   */
  constructor(hostPort, via = {}) {
    this.channel = via.socket ?? null;
    this.socketPath = via.path ?? null;
    const i = hostPort.lastIndexOf(':');
    this.host = i > 0 ? hostPort.slice(0, i).replace(/^\[|\]$/g, '') : hostPort;
    this.port = i > 0 ? Number(hostPort.slice(i + 1)) : 80;
    this.hostHeader = hostPort;
    /** @type {net.Socket | null} */
    this.socket = null;
    this.buf = EMPTY;
    /**
     * Reads that arrived while a body longer than `buf` was awaited: kept as they came and joined
     * once, when `need` bytes (counting `buf`) are here, or at the close. Concatenating each
     * 64 KiB read onto `buf` instead copies the body over and over: quadratic, 3.7 s for a 6 MB
     * event at 128 MB. Null otherwise (every small message: the read is `buf` itself, no copy).
     * @type {Buffer[] | null}
     */
    this.parts = null;
    this.partsLen = 0;
    this.need = 0;
    /** The response being read: {resolve, reject, status, headers, bodyStart, mode, length, chunks, chunkLeft, gotBytes, closeAfter}. */
    this.waiter = null;
    this.busy = false;
    this.queue = [];
  }

  _connect() {
    let s = this.channel && !this.channel.destroyed ? this.channel : null;
    this.channel = null;
    if (!s && this.socketPath) s = net.connect({ path: this.socketPath });
    if (!s) {
      s = net.connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
    }
    s.on('data', (d) => { if (this.socket === s) this._onData(d); });
    s.on('error', (e) => this._onClose(s, e));
    s.on('close', () => this._onClose(s, null));
    this.socket = s;
    this.buf = EMPTY;
    this.parts = null;
    return s;
  }

  _onClose(s, err) {
    if (this.socket !== s) return;
    this.socket = null;
    const w = this.waiter;
    if (!w) return;
    if (w.mode === 'close' && w.headers) {
      this.waiter = null;
      if (this.parts) this._join();
      const body = this.buf.subarray(w.bodyStart);
      this.buf = EMPTY;
      w.resolve({ status: w.status, headers: w.headers, body });
      return;
    }
    this.waiter = null;
    this.parts = null;
    const e = new HttpError(`Runtime API connection closed${err ? `: ${err.message}` : ''}`);
    e.retryable = !w.gotBytes;
    w.reject(e);
  }

  /**
   * Takes the socket for one exchange: at once when it is free (the usual case: no promise to
   * wait for), else a promise of it once the previous exchange is done.
   * @returns {net.Socket | Promise<net.Socket>}
   */
  _acquire() {
    if (!this.busy) return this._take();
    return new Promise((r) => this.queue.push(r)).then(() => this._take());
  }

  _take() {
    this.busy = true;
    const s = this.socket && !this.socket.destroyed ? this.socket : this._connect();
    s.ref();
    return s;
  }

  _release() {
    const s = this.socket;
    if (s && !this.waiter) s.unref();
    const n = this.queue.shift();
    if (n) n(); else this.busy = false;
  }

  _expect() {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject, status: 0, headers: null, bodyStart: 0, mode: '', length: 0, chunks: [], chunkLeft: -1, gotBytes: false };
      if (this.buf.length) this._parse();
    });
  }

  _onData(d) {
    if (this.parts) {
      this.parts.push(d);
      this.partsLen += d.length;
      if (this.partsLen < this.need) {
        if (this.waiter) this.waiter.gotBytes = true;
        return;
      }
      this._join();
    } else this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (this.waiter) {
      this.waiter.gotBytes = true;
      this._parse();
    }
  }

  /** Waits for `n` bytes in all (counting `buf`) before parsing on: see `parts`. */
  _await(n) {
    this.parts = [this.buf];
    this.partsLen = this.buf.length;
    this.need = n;
  }

  _join() {
    const parts = this.parts;
    this.parts = null;
    this.buf = Buffer.concat(parts, this.partsLen);
  }

  _parse() {
    const w = this.waiter;
    if (!w.headers) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      // UTF-8, as Lambda's runtime clients read them: a client context may hold any character.
      const head = this.buf.utf8Slice(0, end).split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
      if (!m) return this._fail(new HttpError(`Bad response from Runtime API: ${head[0]}`));
      w.status = Number(m[1]);
      const headers = Object.create(null);
      for (let i = 1; i < head.length; i++) {
        const line = head[i];
        const c = line.indexOf(':');
        if (c <= 0) continue;
        const k = line.slice(0, c).trim().toLowerCase();
        const v = line.slice(c + 1).trim();
        const prev = headers[k];
        headers[k] = prev === undefined ? v : `${prev}, ${v}`;
      }
      w.headers = headers;
      w.bodyStart = end + 4;
      if (w.status === 204 || w.status === 304 || (w.status >= 100 && w.status < 200)) { w.mode = 'length'; w.length = 0; }
      else if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) w.mode = 'chunked';
      else if (headers['content-length'] !== undefined) { w.mode = 'length'; w.length = Number(headers['content-length']); }
      else w.mode = 'close';
      if (headers.connection && /\bclose\b/i.test(headers.connection)) w.closeAfter = true;
    }
    if (w.mode === 'length') {
      if (this.buf.length - w.bodyStart < w.length) return this._await(w.bodyStart + w.length);
      const body = this.buf.subarray(w.bodyStart, w.bodyStart + w.length);
      // What follows (the pipelined next response) stays in the chunk it came in: no copy.
      const rest = this.buf.subarray(w.bodyStart + w.length);
      this.buf = rest.length ? rest : EMPTY;
      return this._done(body);
    }
    if (w.mode === 'chunked') {
      let p = w.bodyStart;
      for (;;) {
        if (w.chunkLeft < 0) {
          const lineStart = p;
          const nl = this.buf.indexOf('\r\n', p);
          if (nl < 0) break;
          const size = parseInt(this.buf.latin1Slice(p, nl), 16);
          if (Number.isNaN(size)) return this._fail(new HttpError('Bad chunk from Runtime API'));
          p = nl + 2;
          if (size === 0) {
            // Trailers (possibly none), then an empty line.
            const endT = this.buf.indexOf('\r\n\r\n', p - 2);
            if (endT < 0) { p = lineStart; break; }
            const rest = this.buf.subarray(endT + 4);
            this.buf = rest.length ? rest : EMPTY;
            return this._done(w.chunks.length === 1 ? w.chunks[0] : Buffer.concat(w.chunks));
          }
          w.chunkLeft = size;
        }
        if (this.buf.length - p < w.chunkLeft + 2) break;
        w.chunks.push(this.buf.subarray(p, p + w.chunkLeft));
        p += w.chunkLeft + 2;
        w.chunkLeft = -1;
      }
      // Keep only what is not consumed yet (a pending chunk's data starts at 0).
      this.buf = p < this.buf.length ? this.buf.subarray(p) : EMPTY;
      w.bodyStart = 0;
      if (w.chunkLeft >= 0) this._await(w.chunkLeft + 2);
      return;
    }
    // mode 'close': wait for the end of the connection.
    this._await(Infinity);
  }

  _done(body) {
    const w = this.waiter;
    this.waiter = null;
    if (w.closeAfter && this.socket) { const s = this.socket; this.socket = null; s.destroy(); }
    w.resolve({ status: w.status, headers: w.headers, body });
  }

  _fail(err) {
    const w = this.waiter;
    this.waiter = null;
    this.parts = null;
    if (this.socket) { const s = this.socket; this.socket = null; s.destroy(); }
    w.reject(err);
  }

  /**
   * One request with a complete body.
   * @param {string} method
   * @param {string} path
   * @param {string} extraHeaders header lines, each ending in \r\n
   * @param {string | Buffer | null} body
   * @returns {Promise<{status: number, headers: Record<string,string>, body: Buffer}>}
   */
  async request(method, path, extraHeaders, body) {
    for (let attempt = 0; ; attempt++) {
      const reused = this.socket !== null && !this.socket.destroyed;
      const t = this._acquire();
      const s = t instanceof net.Socket ? t : await t;
      try {
        const p = this._expect();
        const len = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
        const head = `${method} ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${extraHeaders}Content-Length: ${len}\r\n\r\n`;
        if (body === null || len === 0) s.write(head, 'latin1');
        else if (typeof body === 'string') s.write(head + body);
        else { s.cork(); s.write(head, 'latin1'); s.write(body); s.uncork(); }
        return await p;
      } catch (e) {
        // A kept-alive socket the server had already closed: try once more on a new one.
        if (attempt === 0 && reused && e instanceof HttpError && e.retryable) continue;
        throw e;
      } finally {
        this._release();
      }
    }
  }

  /**
   * Two requests written together (HTTP/1.1 pipelining): `first` with a complete body, then a
   * body-less `second`. The server answers them in order; `first` resolves with the first
   * response and `second` with the next one. Saves one round trip per invocation: the runtime
   * posts its result and asks for the next event in one write.
   * @returns {{first: Promise<{status: number, headers: Record<string,string>, body: Buffer}>, second: Promise<{status: number, headers: Record<string,string>, body: Buffer}>}}
   */
  pipeline(method, path, extraHeaders, body, method2, path2) {
    let resolve2;
    let reject2;
    const second = new Promise((res, rej) => { resolve2 = res; reject2 = rej; });
    second.catch(() => { /* the caller awaits it, or the runtime is exiting */ });
    const first = (async () => {
      for (let attempt = 0; ; attempt++) {
        const reused = this.socket !== null && !this.socket.destroyed;
        const t = this._acquire();
        const s = t instanceof net.Socket ? t : await t;
        let handedOver = false;
        try {
          const p = this._expect();
          const len = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
          const head = `${method} ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${extraHeaders}Content-Length: ${len}\r\n\r\n`;
          const head2 = `${method2} ${path2} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nContent-Length: 0\r\n\r\n`;
          if (body === null || len === 0) s.write(head + head2, 'latin1');
          else if (typeof body === 'string') s.write(head + body + head2);
          else { s.cork(); s.write(head, 'latin1'); s.write(body); s.write(head2, 'latin1'); s.uncork(); }
          const r = await p;
          const again = () => this.request(method2, path2, '', null).then(resolve2, reject2);
          if (!this.socket || this.socket !== s) {
            // The server closed the connection after the first answer: the second request was
            // not served; ask again on a new connection (once the socket is released).
            queueMicrotask(again);
            return r;
          }
          // The socket stays taken: the second response is the next one on it.
          handedOver = true;
          this._expect().then(resolve2, (e) => {
            if (e instanceof HttpError && e.retryable) queueMicrotask(again);
            else reject2(e);
          }).finally(() => this._release());
          return r;
        } catch (e) {
          if (attempt === 0 && reused && e instanceof HttpError && e.retryable) continue;
          reject2(e);
          throw e;
        } finally {
          if (!handedOver) this._release();
        }
      }
    })();
    return { first, second };
  }

  /**
   * A request whose body is sent with Transfer-Encoding: chunked.
   * @returns {Promise<{write(data: Buffer|string): boolean, onDrain(cb: Function): void, end(trailers?: Record<string,string>): Promise<{status:number, headers: Record<string,string>, body: Buffer}>}>}
   */
  async chunked(method, path, extraHeaders) {
    const s = await this._acquire();
    const response = this._expect();
    response.catch(() => { /* reported through end() */ });
    s.write(`${method} ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${extraHeaders}Transfer-Encoding: chunked\r\n\r\n`, 'latin1');
    // While the body is open, the socket must not keep the event loop alive by itself (a handler
    // that never ends its stream is detected through 'beforeExit'); pending writes still do.
    s.unref();
    let ended = false;
    return {
      write: (data) => {
        const b = typeof data === 'string' ? Buffer.from(data) : data;
        if (b.length === 0 || ended) return true;
        s.cork();
        s.write(`${b.length.toString(16)}\r\n`, 'latin1');
        s.write(b);
        const ok = s.write('\r\n', 'latin1');
        s.uncork();
        return ok;
      },
      onDrain: (cb) => { if (s.destroyed) cb(); else s.once('drain', cb); },
      end: async (trailers) => {
        if (ended) return response;
        ended = true;
        s.ref();
        let t = '0\r\n';
        if (trailers) for (const k of Object.keys(trailers)) t += `${k}: ${trailers[k]}\r\n`;
        s.write(`${t}\r\n`, 'latin1');
        try {
          return await response;
        } finally {
          this._release();
        }
      },
    };
  }
}

module.exports = { HttpError, Connection, openDescriptor };
