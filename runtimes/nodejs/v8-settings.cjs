'use strict';
// How the runtime tunes V8 without command-line flags. Any V8 flag given to node when it starts
// makes V8 refuse the code cache node ships for its built-in modules (the cache is checked
// against a hash of every flag), and they are then compiled from source: with
// --expose-gc --max-semi-space-size=2 --interrupt-budget=16384 on the command line, loading
// http, https, crypto, zlib, http2 and a dozen more (what an AWS SDK client pulls in) took
// 34-40 ms instead of 10.6 ms, in every cold start. Flags set while running change the hash
// too, so each is either set back at once or set only once the function's code is loaded.
//
// node:v8 and node:vm are required only when used: loading them takes ~3 ms, and a runtime
// started for a known function (no pool) needs neither before its first invocation.

/** V8's own gc function, made once (see exposeGc). */
let nativeGc = null;

/**
 * A new context made while --expose-gc is on has `gc`; the flag is off again before anything
 * else is compiled.
 */
function makeNativeGc() {
  if (nativeGc === null) {
    const v8 = require('node:v8');
    v8.setFlagsFromString('--expose-gc');
    try {
      nativeGc = require('node:vm').runInNewContext('gc');
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  return nativeGc;
}

/**
 * `gc`, as Lambda's bootstrap provides it (node --expose-gc). `eager`: V8's own function now (a
 * pooled runtime, booting off any invocation's path). Otherwise a function of the same name and
 * arity that makes V8's on its first call (~5 ms, which a function that never calls gc does not
 * pay in its cold start) and passes every call and result through.
 */
function exposeGc(eager) {
  if (typeof globalThis.gc === 'function') return;
  let gc;
  if (eager) gc = makeNativeGc();
  else gc = { gc() { return makeNativeGc().apply(undefined, arguments); } }.gc;
  Object.defineProperty(globalThis, 'gc', { value: gc, writable: true, enumerable: true, configurable: false });
}

/**
 * Once the function's code is loaded (a pooled runtime) or its first invocation is reported
 * (one started for it: node:v8 is not loaded before). Built-in modules the function requires
 * later compile from source:
 * - the young generation stays at its initial 2 x 1 MiB instead of growing to 2 x 16 MiB, which
 *   an environment then keeps: every invocation allocates into fresh pages, and at 16
 *   environments on two cores switching between so many large working sets costs more than the
 *   extra scavenges (runtime CPU per warm invocation at c16: 198 us at 2 MiB, 251 us at the
 *   default). Objects that outlive a scavenge twice still move to the old generation;
 * - an interrupt budget of a quarter of V8's default, so hot code is optimized after a quarter
 *   as many calls: an environment serves far fewer calls than a long-running server, and with
 *   many environments each sees only its share (at c16, runtime CPU per invocation after 1,000
 *   invocations each: 155 us with the default, 85-105 us with a quarter).
 */
function tuneForInvocations() {
  const v8 = require('node:v8');
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString('--interrupt-budget=16384');
}

/**
 * Lambda's bootstrap starts node with --max-semi-space-size and --max-old-space-size for the
 * function's memory, and so does Stratus: V8 sizes the heap from them as node starts. They are
 * V8 flags, and V8 checks the flags before it takes node's code cache of its built-in modules:
 * with them still set, what an AWS SDK client requires of node took 34 ms instead of 11. Set back
 * to their defaults first thing, before any built-in module is compiled, they leave the heap the
 * size it was given and the cache valid. process.binding('v8') holds node:v8's setFlagsFromString
 * without compiling node:v8 (5 ms from source while the flags are set; 0.3 ms this way); it is
 * deprecated (DEP0111), and its warning is kept out of the function's log.
 */
function forgetHeapFlags() {
  let set;
  // (--no-deprecation makes process.noDeprecation true and read-only.)
  const before = process.noDeprecation;
  const quiet = before === true;
  try {
    if (!quiet) process.noDeprecation = true;
    set = process.binding('v8').setFlagsFromString;
  } catch {
    // a node without it
  } finally {
    if (!quiet) process.noDeprecation = before;
  }
  if (typeof set !== 'function') set = require('node:v8').setFlagsFromString;
  set('--max-old-space-size=0');
  set('--max-semi-space-size=0');
}

module.exports = { exposeGc, tuneForInvocations, forgetHeapFlags };
