'use strict';
// process.env._X_AMZN_TRACE_ID changes with every invocation, as in Lambda. Setting it through
// node's process.env calls setenv(3), and glibc's setenv keeps every value it ever allocated (old
// values may still be referenced by getenv callers): ~200 bytes that an environment never gets
// back, per invocation — 41 MiB after 200,000 invocations of one warm environment, until it hits
// its memory size. Instead, process.env becomes a Proxy of the real environment that keeps this
// one variable in JavaScript.
//
// Reads, writes, `in`, delete, Object.keys, spreading, JSON.stringify, child processes (their
// environment is built from process.env) and workers given `env: process.env` or a copy see it
// as before. What does not: native code calling getenv(), a Worker started with the default or
// SHARE_ENV environment (node copies the C environment for it), console.log(process.env) (it
// shows the proxied object), structuredClone / postMessage of process.env itself (a Proxy cannot
// be cloned; a copy can).

const KEY = '_X_AMZN_TRACE_ID';

/** Node's own refusals for Object.defineProperty on process.env. */
function checkDescriptor(d) {
  const refuse = (message) => {
    const e = new TypeError(message);
    e.code = 'ERR_INVALID_OBJECT_DEFINE_PROPERTY';
    throw e;
  };
  if ('get' in d || 'set' in d) refuse("'process.env' does not accept an accessor(getter/setter) descriptor");
  if (d.configurable !== true || d.writable !== true || d.enumerable !== true) {
    refuse("'process.env' only accepts a configurable, writable, and enumerable data descriptor");
  }
}

/** Set by installTraceEnv: the Proxy, the real environment behind it, the trace value's setter. */
let proxy = null;
let realEnv = null;
let storeTrace = null;
/** The variables the context object is made of, read once and again after any change through the Proxy. */
let contextVars = null;
const CONTEXT_KEYS = ['AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME'];

function installTraceEnv() {
  const real = process.env;
  let trace;
  if (Object.prototype.hasOwnProperty.call(real, KEY)) {
    trace = real[KEY];
    delete real[KEY];
  }
  realEnv = real;
  storeTrace = (v) => { trace = v; };
  proxy = new Proxy(real, {
    get(t, k) { return k === KEY ? trace : t[k]; },
    set(t, k, v) {
      if (k === KEY) trace = String(v);
      else { contextVars = null; t[k] = v; }
      return true;
    },
    has(t, k) { return k === KEY ? trace !== undefined : k in t; },
    deleteProperty(t, k) {
      if (k === KEY) { trace = undefined; return true; }
      contextVars = null;
      return delete t[k];
    },
    defineProperty(t, k, d) {
      if (k !== KEY) { contextVars = null; return Reflect.defineProperty(t, k, d); }
      checkDescriptor(d);
      trace = String(d.value);
      return true;
    },
    ownKeys(t) {
      // Without the real entry, should native code ever have set one: a key listed twice throws.
      const keys = Reflect.ownKeys(t).filter((k) => k !== KEY);
      if (trace !== undefined) keys.push(KEY);
      return keys;
    },
    getOwnPropertyDescriptor(t, k) {
      if (k !== KEY) return Reflect.getOwnPropertyDescriptor(t, k);
      return trace === undefined ? undefined : { value: trace, writable: true, enumerable: true, configurable: true };
    },
  });
  process.env = proxy;
}

// The runtime's own accesses, once per invocation, go around the Proxy while process.env is
// still it: every trap is followed by V8's invariant check, a second lookup in the real
// environment (~10% of the runtime's CPU per warm invocation, measured with perf). A function
// that replaced process.env gets the trace id set on its object and its values read, as from
// process.env in Lambda's runtime.

/** Sets (a string) or removes (undefined) _X_AMZN_TRACE_ID. */
function setTraceId(value) {
  if (proxy !== null && process.env === proxy) storeTrace(value);
  else if (value === undefined) delete process.env[KEY];
  else process.env[KEY] = value;
}

/**
 * The function's variables the context object is made of (AWS_LAMBDA_FUNCTION_NAME, ...), as
 * Lambda's runtime reads them from process.env for every invocation. While process.env is the
 * Proxy, they are read from the real environment again only after the function changed a
 * variable through it: five reads of the real environment are five getenv(3) scans, ~10% of the
 * runtime's own CPU per warm invocation. (Native code calling setenv(3) is not seen, as above.)
 */
function contextEnv() {
  if (proxy === null || process.env !== proxy) return pick(process.env);
  if (contextVars === null) contextVars = pick(realEnv);
  return contextVars;
}

function pick(env) {
  const o = {};
  for (const k of CONTEXT_KEYS) o[k] = env[k];
  return o;
}

module.exports = { installTraceEnv, setTraceId, contextEnv };
