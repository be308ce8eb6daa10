'use strict';
// The invoke loop: /next -> handler -> /response | /error, with Lambda's Node.js programming
// model (async handlers, callbacks with callbackWaitsForEmptyEventLoop, context.succeed/fail/done,
// response streaming) and its behaviour for unhandled errors.
//
// callbackWaitsForEmptyEventLoop is emulated as Lambda does it, with 'beforeExit': the Runtime API
// socket is unref'd while no request is in flight, so the event loop drains once the function's
// own pending work (timers, sockets, ...) is done, and only then is the callback's result posted.
const { Connection } = require('./http-client.cjs');
const { JSONStringifyError, NodeJsExit, UnhandledPromiseRejection, toRapidResponse } = require('./errors.cjs');
const { logError, setCurrentRequestId, setCurrentTenantId } = require('./log-patch.cjs');
const { IdleGc } = require('./idle-gc.cjs');
const { STREAM_RESPONSE, promiseOnly } = require('./user-function.cjs');
const { contextEnv, setTraceId } = require('./trace-env.cjs');

const PREFIX = '/2018-06-01/runtime/';
const JSON_HEADER = 'Content-Type: application/json\r\n';
const NEXT_PATH = `${PREFIX}invocation/next`;
/**
 * How long after the first invocation's result `afterFirst` runs: before the platform freezes an
 * idle environment (20 ms), or it would run at the start of the next invocation.
 */
const AFTER_FIRST_MS = 10;
/** Taken before any function code runs (see idle-gc.cjs). */
const bootGc = globalThis.gc;

function headerValue(v) {
  return String(v).replace(/[^\x20-\x7e]/g, '?');
}

/**
 * A result's JSON text; `Failure` is what a result without one throws (Lambda's newer runtime
 * client: JSONStringifyError).
 */
function serialize(result, Failure = Error) {
  let s;
  try {
    s = JSON.stringify(result === undefined ? null : result);
  } catch {
    throw new Failure('Unable to stringify response body');
  }
  // A function or a Symbol has no JSON text at all: Lambda's native client refuses the body it
  // is then handed (undefined) with a TypeError, which fails the invocation.
  if (s === undefined) throw new TypeError('Wrong arguments');
  return s;
}

/** An error as the runtime posts it: formatted as the function's Node.js version's runtime client does. */
const rapidError = (error) => toRapidResponse(error, promiseOnly());

/** A streaming failure of the runtime's own: an Error from Node.js 24 on, the message itself before. */
const asFailure = (message) => (promiseOnly() ? new Error(message) : message);

function isPromise(o) {
  return !!o && typeof o.then === 'function';
}

class RuntimeClient {
  /** @param {{socket?: import('node:net').Socket | null, path?: string | null}} [via] see Connection */
  constructor(hostPort, via = {}) {
    this.conn = new Connection(hostPort, via);
    /** The next invocation, already asked for in the same write as the last result. */
    this.prefetched = null;
    /** A result decided but not written yet (see postThenNext). */
    this.unsent = null;
    this.exiting = false;
  }

  async next() {
    // The runtime is exiting (see Runtime.fatal): it asks for nothing more.
    if (this.exiting) return new Promise(() => {});
    const p = this.prefetched;
    this.prefetched = null;
    const r = await (p ?? this.conn.request('GET', NEXT_PATH, '', null));
    if (r.status !== 200) throw new Error(`Failed to get next invocation: HTTP ${r.status} ${r.body.toString()}`);
    return r;
  }

  responsePath(id) {
    return `${PREFIX}invocation/${encodeURIComponent(id)}/response`;
  }

  /**
   * Posts a result and, in the same write, asks for the next invocation: once the promise
   * rejections of this turn of the event loop have been seen, as Lambda's client asks for its next
   * invocation only from a setImmediate. A promise the handler did not await that rejects as it
   * returns is then logged within its invocation and ends the runtime (see sendUnsent) before it
   * asks for more, instead of taking down the invocation handed to it next.
   */
  postThenNext(path, headers, body) {
    return new Promise((resolve, reject) => {
      this.unsent = { path, headers, body, resolve, reject };
      setImmediate(() => this.sendUnsent(true));
    });
  }

  /** Writes the result decided last, if it is not written yet: asking for the next invocation too, or not (the runtime is about to exit). */
  sendUnsent(thenNext) {
    const u = this.unsent;
    if (!u) return Promise.resolve();
    this.unsent = null;
    let first;
    if (thenNext) {
      const both = this.conn.pipeline('POST', u.path, u.headers, u.body, 'GET', NEXT_PATH);
      this.prefetched = both.second;
      first = both.first;
    } else {
      first = this.conn.request('POST', u.path, u.headers, u.body);
    }
    first.then(u.resolve, u.reject);
    return first;
  }

  postResponse(id, body) {
    return this.postThenNext(this.responsePath(id), JSON_HEADER, body);
  }

  postError(id, error) {
    const r = rapidError(error);
    return this.postThenNext(errorPath(id), errorHeaders(r), JSON.stringify(r));
  }

  /** Posts an error without asking for the next invocation: the runtime exits after it. */
  postFinalError(id, error) {
    const r = rapidError(error);
    return this.conn.request('POST', errorPath(id), errorHeaders(r), JSON.stringify(r));
  }

  postInitError(error) {
    const r = rapidError(error);
    return this.conn.request('POST', `${PREFIX}init/error`, errorHeaders(r), JSON.stringify(r));
  }
}

const errorPath = (id) => `${PREFIX}invocation/${encodeURIComponent(id)}/error`;

/** The header lines of an error post: JSON, and the error type Lambda reads from its header. */
const errorHeaders = (r) => `${JSON_HEADER}Lambda-Runtime-Function-Error-Type: ${headerValue(r.errorType)}\r\n`;

function parseJson(s, name) {
  if (s === undefined) return undefined;
  try {
    return JSON.parse(s);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

/** Lambda's Node.js 24 programming model (user-function.promiseOnly), set when the Runtime is made. */
let PROMISE_ONLY = false;

/** Invocation data Lambda puts on the context object (from the environment and /next headers). */
function attachEnvironmentData(ctx, h) {
  const deadline = Number(h['lambda-runtime-deadline-ms']);
  const env = contextEnv();
  ctx.functionVersion = env.AWS_LAMBDA_FUNCTION_VERSION;
  ctx.functionName = env.AWS_LAMBDA_FUNCTION_NAME;
  ctx.memoryLimitInMB = env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
  ctx.logGroupName = env.AWS_LAMBDA_LOG_GROUP_NAME;
  ctx.logStreamName = env.AWS_LAMBDA_LOG_STREAM_NAME;
  ctx.clientContext = parseJson(h['lambda-runtime-client-context'], 'ClientContext');
  ctx.identity = parseJson(h['lambda-runtime-cognito-identity'], 'CognitoIdentity');
  ctx.invokedFunctionArn = h['lambda-runtime-invoked-function-arn'];
  ctx.awsRequestId = h['lambda-runtime-aws-request-id'];
  ctx.tenantId = h['lambda-runtime-aws-tenant-id'];
  if (PROMISE_ONLY) ctx.xRayTraceId = h['lambda-runtime-trace-id'];
  ctx.getRemainingTimeInMillis = function getRemainingTimeInMillis() { return deadline - Date.now(); };
  return ctx;
}

/** Exits once everything written to stdout so far is flushed. */
function exitAfterFlush(code) {
  process.exitCode = code;
  const t = setTimeout(() => process.exit(code), 2000);
  try {
    process.stdout.write('', () => { clearTimeout(t); process.exit(code); });
  } catch {
    process.exit(code);
  }
}

class Runtime {
  /**
   * @param {RuntimeClient} client
   * @param {Function} handler
   * @param {{streaming: string|false, highWaterMark?: number, isAsync: boolean}} meta
   * @param {(() => void) | null} [afterFirst] run once, shortly after the first invocation's result is
   *   written (none: no timer is set for it)
   */
  constructor(client, handler, meta, afterFirst = null) {
    this.client = client;
    this.afterFirst = afterFirst;
    this.handler = handler;
    this.meta = meta;
    // Read once the function's environment is in place (a pooled runtime loads this file before).
    PROMISE_ONLY = promiseOnly();
    /** @type {null | {id: string, reported: boolean, stream: import('./response-stream.cjs').ResponseStream | null}} */
    this.current = null;
    /** @type {null | (() => void)} */
    this.beforeExit = null;
    this.idle = new IdleGc(bootGc);
    // A streaming function's first invocation does not pay for loading its stream.
    if (meta.streaming === STREAM_RESPONSE) require('./response-stream.cjs');
    process.on('beforeExit', () => {
      const f = this.beforeExit;
      if (f) f();
    });
  }

  async run() {
    const streaming = this.meta.streaming === STREAM_RESPONSE;
    for (;;) {
      const { headers, body } = await this.client.next();
      this.idle.busyNow();
      const id = headers['lambda-runtime-aws-request-id'];
      if (!id) throw new Error('invocation id is missing or invalid');
      setCurrentRequestId(id);
      setCurrentTenantId(headers['lambda-runtime-aws-tenant-id']);
      setTraceId(headers['lambda-runtime-trace-id'] || undefined);
      await (streaming ? this.handleStreaming(id, headers, body) : PROMISE_ONLY ? this.handleAwaited(id, headers, body) : this.handleOnce(id, headers, body));
    }
  }

  /** The platform is about to freeze the environment (SIGWINCH, see bootstrap.cjs). */
  compactNow() {
    this.idle.collect();
  }

  /** The invocation's result is reported: the runtime waits for its next invocation. */
  idleNow() {
    this.idle.idleNow();
    const f = this.afterFirst;
    if (f) {
      this.afterFirst = null;
      // Not at once: the platform is still sending the result to the caller, and on a busy
      // host this would compete with it for a CPU. Unref'd: it keeps nothing waiting (an empty
      // event loop ends a callback handler's invocation).
      setTimeout(f, AFTER_FIRST_MS).unref();
    }
  }

  /** Reports a Runtime API failure the runtime cannot recover from. */
  clientFailed(err) {
    console.log(`Unexpected Top Level Error: ${err.toString()}`);
    exitAfterFlush(129);
  }

  /**
   * The current invocation `id`: `post` reports its result (a Runtime API request, `p`), and
   * `resolve` is called once that is acknowledged.
   */
  track(id, resolve) {
    const inv = { id, reported: false, stream: null };
    this.current = inv;
    const finish = () => {
      if (this.current === inv) this.current = null;
      this.beforeExit = null;
      resolve();
    };
    const post = (p) => {
      this.beforeExit = null;
      // The acknowledgement may come only with the next invocation: idle from here on.
      this.idleNow();
      p.then(finish, (e) => this.clientFailed(e));
    };
    return { inv, post };
  }

  handleOnce(id, headers, body) {
    return new Promise((resolve) => {
      const { inv, post } = this.track(id, resolve);

      const postError = (err) => {
        logError('Invoke Error', err);
        if (inv.reported) return;
        inv.reported = true;
        post(this.client.postError(id, err));
      };
      let isCompleteInvoked = false;
      const complete = (result) => {
        if (isCompleteInvoked || inv.reported) {
          console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
          return;
        }
        isCompleteInvoked = true;
        const s = serialize(result);
        inv.reported = true;
        post(this.client.postResponse(id, s));
      };

      let waitForEmptyEventLoop = true;
      const callback = (err, result) => {
        this.beforeExit = null;
        if (err !== undefined && err !== null) postError(err);
        else if (!waitForEmptyEventLoop) complete(result);
        else {
          this.beforeExit = () => {
            this.beforeExit = null;
            setImmediate(() => complete(result));
          };
        }
      };
      const done = (err, result) => {
        this.beforeExit = null;
        if (err !== undefined && err !== null) postError(err);
        else complete(result);
      };
      let finished = false;
      const once = (fn) => function (...args) {
        if (!finished) {
          fn(...args);
          finished = true;
        }
      };
      const succeed = once((result) => done(null, result));
      const fail = once((err) => (err === undefined || err === null ? done('handled') : done(err, null)));
      // Node.js 24 and later: no callbacks, so none of the context's callback-era members.
      const ctx = PROMISE_ONLY ? {} : {
        get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
        set callbackWaitsForEmptyEventLoop(v) { waitForEmptyEventLoop = v; },
        succeed,
        fail,
        done: once(done),
      };
      const cb = once(callback);

      try {
        // Nothing reported when the event loop drains: async handler -> NodeJsExit; otherwise null.
        this.beforeExit = () => {
          this.beforeExit = null;
          isCompleteInvoked = true;
          if (inv.reported) return;
          if (this.meta.isAsync) {
            const e = new NodeJsExit();
            logError('Invoke Error', e);
            inv.reported = true;
            post(this.client.postError(id, e));
          } else {
            inv.reported = true;
            post(this.client.postResponse(id, 'null'));
          }
        };
        const result = this.handler(JSON.parse(body.toString('utf8')), attachEnvironmentData(ctx, headers), cb);
        if (isPromise(result)) result.then(succeed, fail).catch(fail);
      } catch (err) {
        cb(err);
      }
    });
  }

  /**
   * Node.js 24 and later, as Lambda's newer runtime client: the handler's return value, awaited
   * (a plain value too), is the result; there is no callback, and nothing else ends the
   * invocation.
   */
  handleAwaited(id, headers, body) {
    return new Promise((resolve) => {
      const { inv, post } = this.track(id, resolve);
      const fail = (err) => {
        if (inv.reported) return;
        inv.reported = true;
        logError('Invoke Error', err);
        post(this.client.postError(id, err));
      };
      // The event loop drained with the handler's promise unsettled.
      this.beforeExit = () => fail(new NodeJsExit());
      let result;
      try {
        result = Promise.resolve(this.handler(JSON.parse(body.toString('utf8')), attachEnvironmentData({}, headers)));
      } catch (err) {
        result = Promise.reject(err);
      }
      result.then((value) => {
        if (inv.reported) return;
        let s;
        try {
          s = serialize(value, JSONStringifyError);
        } catch (e) {
          fail(e);
          return;
        }
        inv.reported = true;
        post(this.client.postResponse(id, s));
      }, fail);
    });
  }

  handleStreaming(id, headers, body) {
    return new Promise((resolve) => {
      const { ResponseStream } = require('./response-stream.cjs');
      /** What the function destroyed its stream with, which failed the invocation (logged once). */
      let destroyedWith;
      const stream = new ResponseStream(this.client.conn, this.client.responsePath(id), this.meta.highWaterMark, (err) => {
        destroyedWith = err;
        void fail(err);
      });
      const inv = { id, reported: false, stream };
      this.current = inv;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        this.idleNow();
        if (this.current === inv) this.current = null;
        this.beforeExit = null;
        resolve();
      };
      // Node.js 24 and later have no callbackWaitsForEmptyEventLoop: the stream's end ends it.
      let waitForEmptyEventLoop = !PROMISE_ONLY;
      const scheduleNext = () => {
        this.beforeExit = null;
        if (!waitForEmptyEventLoop) finish();
        else this.beforeExit = () => { this.beforeExit = null; setImmediate(finish); };
      };
      const fail = (err) => {
        logError('Invoke Error', err);
        inv.reported = true;
        return stream.fail(err);
      };
      const ctx = PROMISE_ONLY ? {} : {
        get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
        set callbackWaitsForEmptyEventLoop(v) { waitForEmptyEventLoop = v; },
      };
      let settled = false;
      // The loop drained with the response still open: nothing will ever finish it.
      this.beforeExit = () => {
        this.beforeExit = null;
        if (stream._terminated) stream.done.then(finish);
        // Node.js 24's client throws Errors where the older one passes strings.
        else fail(settled ? asFailure('Response stream is not finished.') : new NodeJsExit()).then(finish);
      };
      (async () => {
        try {
          const r = this.handler(JSON.parse(body.toString('utf8')), stream, attachEnvironmentData(ctx, headers));
          if (!isPromise(r)) {
            await fail(asFailure('Streaming does not support non-async handlers.'));
            scheduleNext();
            return;
          }
          const result = await r;
          settled = true;
          if (result !== undefined) console.warn('Streaming handlers ignore return values.');
          await stream.done;
          inv.reported = true;
          scheduleNext();
        } catch (err) {
          settled = true;
          if (stream._terminated) {
            if (err !== destroyedWith) logError('Invoke Error', err);
          } else await fail(err);
          scheduleNext();
        }
      })();
    });
  }

  /** An uncaught exception or unhandled rejection: report it for the current invocation, exit. */
  async fatal(error, code) {
    const inv = this.current;
    try {
      if (inv && !inv.reported) {
        inv.reported = true;
        // As Lambda's runtime does: the error is reported, then the process exits, before any
        // next invocation is asked for (it would be handed to a runtime about to exit).
        if (inv.stream) await inv.stream.fail(error);
        else await this.client.postFinalError(inv.id, error);
      } else {
        // Its result is decided: it goes out, and the runtime asks for no next invocation.
        this.client.exiting = true;
        await this.client.sendUnsent(false);
      }
    } catch { /* exiting anyway */ }
    exitAfterFlush(code);
  }
}

let fatalHandled = false;

/**
 * process-level handlers; `target()` returns the Runtime once the loop runs, or null during init
 * (then the error is posted to /init/error).
 */
function installFatalHandlers(client, target) {
  const onFatal = async (error, code) => {
    if (fatalHandled) return;
    fatalHandled = true;
    const rt = target();
    if (rt) return rt.fatal(error, code);
    try {
      await client.postInitError(error);
    } catch { /* exiting anyway */ }
    exitAfterFlush(code);
  };
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    void onFatal(error, 129);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    void onFatal(error, 128);
  });
}

module.exports = { RuntimeClient, exitAfterFlush, Runtime, installFatalHandlers };
