'use strict';
// process.env._X_AMZN_TRACE_ID changes with every invocation, as in Lambda. Setting it through
// node's process.env calls setenv(3), and glibc's setenv keeps every value it ever allocated (old
// values may still be referenced by getenv callers): ~200 bytes that an environment never gets
// back, per invocation — 41 MiB after 200,000 invocations of one warm environment, until it hits
// its memory size. Instead, process.env becomes a Proxy of the real environment that keeps this
// one variable in JavaScript: reads, writes, `in`, Object.keys, JSON.stringify, spawned children
// and workers see it as before; only native code calling getenv() does not (nothing in node
// reads it). console.log(process.env) shows the real environment, without it.

const KEY = '_X_AMZN_TRACE_ID';

function installTraceEnv() {
  const real = process.env;
  let trace;
  if (Object.prototype.hasOwnProperty.call(real, KEY)) {
    trace = real[KEY];
    delete real[KEY];
  }
  process.env = new Proxy(real, {
    get(t, k) { return k === KEY ? trace : t[k]; },
    set(t, k, v) {
      if (k === KEY) trace = String(v);
      else t[k] = v;
      return true;
    },
    has(t, k) { return k === KEY ? trace !== undefined : k in t; },
    deleteProperty(t, k) {
      if (k === KEY) { trace = undefined; return true; }
      return delete t[k];
    },
    defineProperty(t, k, d) {
      if (k !== KEY) return Reflect.defineProperty(t, k, d);
      trace = String(d.value);
      return true;
    },
    ownKeys(t) {
      const keys = Reflect.ownKeys(t);
      if (trace !== undefined) keys.push(KEY);
      return keys;
    },
    getOwnPropertyDescriptor(t, k) {
      if (k !== KEY) return Reflect.getOwnPropertyDescriptor(t, k);
      return trace === undefined ? undefined : { value: trace, writable: true, enumerable: true, configurable: true };
    },
  });
}

module.exports = { installTraceEnv };
