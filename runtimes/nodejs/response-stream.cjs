'use strict';
// Response streaming (awslambda.streamifyResponse): the handler writes to a Writable whose data
// goes to POST /invocation/{id}/response as HTTP chunks, with
// Lambda-Runtime-Function-Response-Mode: streaming. Errors after the headers are sent travel as
// the trailers Lambda-Runtime-Function-Error-Type / Lambda-Runtime-Function-Error-Body (base64).
const { Writable } = require('node:stream');
const { InvalidStreamingOperation, toRapidResponse } = require('./errors.cjs');
const { promiseOnly } = require('./user-function.cjs');

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const METADATA_PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER_LEN = 8;

/** awslambda.HttpResponseStream: prefixes the body with a JSON prelude and 8 NUL bytes. */
class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(METADATA_PRELUDE_CONTENT_TYPE);
    const metadataPrelude = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadataPrelude);
      write(new Uint8Array(DELIMITER_LEN));
    };
    return underlyingStream;
  }
}

class ResponseStream extends Writable {
  /**
   * @param {import('./http-client.cjs').Connection} conn
   * @param {string} path
   * @param {number | undefined} highWaterMark
   * @param {(err: unknown) => void} [onDestroyed] the function destroyed the stream with `err`
   *   before finishing it: the runtime fails the invocation with it (see _destroy)
   */
  constructor(conn, path, highWaterMark, onDestroyed) {
    super(highWaterMark ? { highWaterMark } : {});
    this._conn = conn;
    this._path = path;
    this._contentType = DEFAULT_CONTENT_TYPE;
    this._writeCalled = false;
    this._onBeforeFirstWrite = undefined;
    /** @type {Promise<any> | null} */
    this._req = null;
    this._terminated = false;
    this._onDestroyed = onDestroyed;
    // Lambda's runtime listens for 'error' on its response request: an error the stream is
    // destroyed with fails the invocation (_destroy), it does not end the process as an uncaught
    // exception (Runtime.ExitError, and the environment reset).
    this.on('error', () => {});
    let resolveDone;
    /** Settles once the Runtime API answered the whole request (or it failed). */
    this.done = new Promise((r) => { resolveDone = r; });
    this._resolveDone = resolveDone;
  }

  setContentType(contentType) {
    if (this._writeCalled) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    this._contentType = contentType;
  }

  _prelude() {
    if (!this._writeCalled) {
      this._writeCalled = true;
      if (typeof this._onBeforeFirstWrite === 'function') this._onBeforeFirstWrite((ch) => Writable.prototype.write.call(this, ch));
    }
  }

  write(chunk, encoding, callback) {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && chunk?.constructor !== Uint8Array) chunk = JSON.stringify(chunk);
    this._prelude();
    return super.write(chunk, encoding, callback);
  }

  end(chunk, encoding, callback) {
    if (typeof chunk === 'function') { callback = chunk; chunk = undefined; }
    else if (typeof encoding === 'function') { callback = encoding; encoding = undefined; }
    if (chunk !== undefined && chunk !== null && !this.writableEnded) this.write(chunk, encoding);
    else if (!this.writableEnded) this._prelude();
    return super.end(callback);
  }

  _start() {
    if (!this._req) {
      this._req = this._conn.chunked('POST', this._path,
        `Content-Type: ${this._contentType}\r\nLambda-Runtime-Function-Response-Mode: streaming\r\nTrailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n`);
    }
    return this._req;
  }

  _write(chunk, encoding, cb) {
    this._start().then((req) => {
      if (req.write(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk)) cb();
      else req.onDrain(() => cb());
    }, cb);
  }

  _final(cb) {
    this._finish(undefined).then(() => cb(), cb);
  }

  /** Ends the request (with error trailers when `trailers` is given); idempotent. */
  _finish(trailers) {
    if (this._terminated) return this.done;
    this._terminated = true;
    this._start().then((req) => req.end(trailers)).then(
      (res) => this._resolveDone({ ok: res.status < 300, status: res.status }),
      (err) => this._resolveDone({ ok: false, error: err }),
    );
    return this.done;
  }

  /** Reports `err` for this invocation through the trailers and closes the request. */
  fail(err) {
    if (this._terminated) return this.done;
    const error = toRapidResponse(err, promiseOnly());
    const p = this._finish({
      'Lambda-Runtime-Function-Error-Type': error.errorType,
      'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(error)).toString('base64'),
    });
    if (!this.destroyed) this.destroy();
    return p;
  }

  /**
   * stream.destroy(err) before the response is finished fails the invocation with `err` through
   * the runtime's failure path (onDestroyed), as a handler throwing mid-stream does: its Invoke
   * Error record, then the trailers.
   */
  _destroy(err, cb) {
    if (!this._terminated) {
      if (err && this._onDestroyed) this._onDestroyed(err);
      else this.fail(err ?? new Error('The response stream was destroyed.'));
    }
    cb(err);
  }
}

module.exports = { HttpResponseStream, ResponseStream };
