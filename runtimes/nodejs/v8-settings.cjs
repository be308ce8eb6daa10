'use strict';
// How the runtime tunes V8 without command-line flags. Any V8 flag given to node when it starts
// makes V8 refuse the code cache node ships for its built-in modules (the cache is checked
// against a hash of every flag), and they are then compiled from source: with
// --expose-gc --max-semi-space-size=2 --interrupt-budget=16384 on the command line, loading
// http, https, crypto, zlib, http2 and a dozen more (what an AWS SDK client pulls in) took
// 34-40 ms instead of 10.6 ms, in every cold start. Flags set while running change the hash
// too, so each is either set back at once or set only once the function's code is loaded.
const v8 = require('node:v8');
const vm = require('node:vm');

/**
 * `gc`, as Lambda's bootstrap provides it (node --expose-gc): a new context made while the flag
 * is on has it; the flag is off again before anything is compiled.
 */
function exposeGc() {
  if (typeof globalThis.gc === 'function') return;
  v8.setFlagsFromString('--expose-gc');
  try {
    const gc = vm.runInNewContext('gc');
    Object.defineProperty(globalThis, 'gc', { value: gc, writable: true, enumerable: true, configurable: false });
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/**
 * Once the function's code is loaded (built-in modules it requires later compile from source):
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
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString('--interrupt-budget=16384');
}

module.exports = { exposeGc, tuneForInvocations };
