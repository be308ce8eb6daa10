'use strict';
// process.env._X_AMZN_TRACE_ID changes with every invocation, as in Lambda, whose runtime sets it
// with a plain assignment to process.env and deletes it for an invocation without one: so does
// this runtime, on node's real process.env. The function, its child processes, Workers (with the
// default environment too: node copies the C environment for them), native code calling getenv(),
// structuredClone / postMessage of process.env and console.log(process.env) all see it.
//
// What it costs, as in Lambda: node sets it with setenv(3) (~1.2 us with Lambda's ~30 variables),
// and glibc keeps every value setenv ever allocated, as getenv callers may still hold an old one:
// ~200-300 bytes per invocation that a warm environment never gets back. The context's five
// variables are read from process.env at every invocation too (~0.9 us), as Lambda's runtime does.

const KEY = '_X_AMZN_TRACE_ID';

/** Sets (a string) or removes (undefined) _X_AMZN_TRACE_ID, in process.env as the function has it (it may have replaced it). */
function setTraceId(value) {
  if (value === undefined) delete process.env[KEY];
  else process.env[KEY] = value;
}

module.exports = { setTraceId };
