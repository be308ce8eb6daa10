'use strict';
// Stratus Node.js runtime (nodejs18.x .. nodejs24.x). Started before it knows its function (see
// runtimes/PROTOCOL.md): it boots, reads one JSON assignment line from stdin, drops privileges,
// replaces its environment, enters the task root, loads the handler and serves the Lambda
// Runtime API (2018-06-01). Imports nothing from the platform.
// Before anything else: the heap flags node was started with go (node's code cache is checked
// against V8's flags), then gc, which runtime.cjs takes at load (see v8-settings.cjs).
const { exposeGc, tuneForInvocations, forgetHeapFlags } = require('./v8-settings.cjs');
forgetHeapFlags();
/** In the prewarmed pool (see runtimes/PROTOCOL.md): boot time is free, a cold start's is not. */
const POOLED = process.env.STRATUS_POOLED === '1';
exposeGc(POOLED);
const fs = require('node:fs');
const Module = require('node:module');
const { patchConsole, logError } = require('./log-patch.cjs');
const { load, handlerMetadata, checkHandlerSignature, awslambdaGlobal, promiseOnly } = require('./user-function.cjs');
const { Runtime, RuntimeClient, installFatalHandlers, exitAfterFlush } = require('./runtime.cjs');
const { installTraceEnv } = require('./trace-env.cjs');
const { openDescriptor } = require('./http-client.cjs');

/**
 * The Runtime API channel the sandbox started this runtime with (_STRATUS_API_FD, see
 * runtimes/PROTOCOL.md), wrapped at boot: a pooled runtime's cold start does not pay for it.
 */
const channel = (() => {
  const fd = Number(process.env._STRATUS_API_FD);
  delete process.env._STRATUS_API_FD;
  return openDescriptor(fd);
})();

/** What was read from fd 0 past the last line returned. */
let stdinRest = Buffer.alloc(0);

/** Reads fd 0 up to the next newline (blocking: nothing else to do meanwhile); null at its end. */
function readStdinLine() {
  const chunks = [stdinRest];
  let seen = stdinRest.includes(10);
  const buf = Buffer.alloc(64 * 1024);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (!seen) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') { Atomics.wait(sleeper, 0, 0, 2); continue; }
      if (e.code === 'EOF') n = 0;
      else throw e;
    }
    if (n === 0) break;
    const c = Buffer.from(buf.subarray(0, n));
    chunks.push(c);
    seen = c.includes(10);
  }
  const all = Buffer.concat(chunks);
  const nl = all.indexOf(10);
  stdinRest = nl >= 0 ? all.subarray(nl + 1) : Buffer.alloc(0);
  if (nl < 0 && all.length === 0) return null;
  return all.subarray(0, nl >= 0 ? nl : all.length).toString('utf8');
}

function fail(msg) {
  process.stderr.write(`stratus nodejs runtime: ${msg}\n`);
  process.exit(1);
}

/** Privileges, then environment (the working directory: enterTaskRoot). */
function apply(a) {
  if (a.uid !== null && a.uid !== undefined) {
    if (process.getuid() === 0) {
      process.setgroups(Array.isArray(a.groups) ? a.groups : []);
      process.setgid(a.gid ?? a.uid);
      process.setuid(a.uid);
      if (process.getuid() === 0 || process.geteuid() === 0) fail('could not drop root privileges');
    } else if (process.getuid() !== a.uid) {
      process.stderr.write(`stratus nodejs runtime: not root, cannot switch to uid ${a.uid}; staying uid ${process.getuid()}\n`);
    }
  }
  // keepEnv: started by the function's wrapper script, with its environment as the wrapper left it.
  if (!a.keepEnv) {
    for (const k of Object.keys(process.env)) delete process.env[k];
    for (const [k, v] of Object.entries(a.env ?? {})) process.env[k] = String(v);
  }
  // NODE_PATH comes with the function's environment (layers, runtime dir): re-read it.
  if (typeof Module._initPaths === 'function') Module._initPaths();
}

/** The task root, once the code is there (taskRootPending: the platform says so on a line of its own). */
function enterTaskRoot(a) {
  if (a.taskRootPending) {
    const word = readStdinLine();
    if (word !== 'ready') fail(`the task root was not made ready (${word === null ? 'end of input' : JSON.stringify(word)})`);
  }
  process.chdir(a.taskRoot);
}

async function main() {
  if (POOLED) await require('./warm-up.cjs').warmUp();
  const line = readStdinLine();
  if (line === null || !line.trim()) fail('no assignment on stdin');
  let assignment;
  try {
    assignment = JSON.parse(line);
  } catch (e) {
    fail(`bad assignment: ${e.message}`);
  }
  try {
    apply(assignment);
  } catch (e) {
    fail(`cannot apply assignment: ${e.message}`);
  }
  installTraceEnv();

  patchConsole();
  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!api) fail('AWS_LAMBDA_RUNTIME_API is not set');
  const client = new RuntimeClient(api, { socket: channel });
  let runtime = null;
  installFatalHandlers(client, () => runtime);

  const noGlobal = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (noGlobal !== '1' && noGlobal !== 'true') globalThis.awslambda = awslambdaGlobal(() => require('./response-stream.cjs').HttpResponseStream);

  try {
    enterTaskRoot(assignment);
  } catch (e) {
    fail(`cannot apply assignment: ${e.message}`);
  }
  // The function's modules see require.main undefined, as under Lambda's ES module entry point.
  process.mainModule = undefined;
  // An ES module whose top-level await never settles: node ends an ES module entry point with
  // exit code 13, and so does this runtime (rather than running out of work and exiting 0). Seen
  // in process.emit while loading, not as a 'beforeExit' listener the function's init could see.
  let loading = true;
  const emit = process.emit;
  const watch = function (event, ...args) {
    if (loading && event === 'beforeExit') {
      process.stderr.write('Warning: Detected unsettled top-level await in the function\'s module\n');
      process.exit(13);
    }
    return emit.call(this, event, ...args);
  };
  process.emit = watch;
  let handler;
  let meta;
  try {
    handler = await load(assignment.taskRoot, process.env._HANDLER ?? '');
    meta = handlerMetadata(handler);
    checkHandlerSignature(meta);
  } catch (e) {
    // What Lambda's runtime does with an error thrown while loading the function.
    handler = undefined;
    // Node.js 24's runtime client calls it what it is.
    logError(promiseOnly() ? 'Init Error' : 'Uncaught Exception', e);
    try {
      await client.postInitError(e);
    } catch { /* exiting anyway */ }
    exitAfterFlush(129);
  } finally {
    loading = false;
    // Unless the function's init wrapped process.emit in turn (APM agents do): then ours stays
    // in its chain, passing everything through.
    if (process.emit === watch) process.emit = emit;
  }
  if (handler) {
    // A pooled runtime has node:v8 loaded already; one started for this function would load it
    // (~3 ms) in its cold start, so it tunes once its first invocation is reported.
    if (POOLED) tuneForInvocations();
    runtime = new Runtime(client, handler, meta, POOLED ? null : tuneForInvocations);
    runtime.run().catch((e) => runtime.clientFailed(e));
    // SIGWINCH (ignored by default; there is no terminal): the platform asks for the heap
    // compaction an idle runtime does by itself after a quiet while (idle-gc.cjs) before it
    // freezes the environment, which would keep that timer from ever firing (PROTOCOL.md).
    process.on('SIGWINCH', () => runtime.compactNow());
  }
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
