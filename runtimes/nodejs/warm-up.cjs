'use strict';
// What a runtime does before it reads its assignment. A pooled one waits there, off any
// invocation's critical path, so it runs once the code a cold start would otherwise run for the
// first time. A function's first invocation then does not pay for V8 compiling the module
// loaders, the socket and stream code of node, and this runtime's own Runtime API client (about
// 3-4 ms of a ~15 ms cold start here), nor for starting V8's helper threads.
const net = require('node:net');
const path = require('node:path');
const { load, handlerMetadata, checkHandlerSignature } = require('./user-function.cjs');
const { Runtime, RuntimeClient } = require('./runtime.cjs');

const WARM_ID = '00000000-0000-4000-8000-000000000000';
const NEXT = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n' +
  `Lambda-Runtime-Aws-Request-Id: ${WARM_ID}\r\nLambda-Runtime-Deadline-Ms: 0\r\n` +
  'Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:warm-up\r\n' +
  'Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: 2\r\n\r\n{}',
  'latin1',
);
const ACCEPTED = Buffer.from('HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n', 'latin1');

/**
 * One invocation's worth of Runtime API traffic (next, then a response pipelined with the next
 * next) between a throw-away RuntimeClient and an in-process server on an abstract Unix socket,
 * the transport a real assignment uses. Talks to nothing outside this process.
 */
async function runtimeApiRoundTrip() {
  const name = `\0stratus-warm-up-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const server = net.createServer((c) => {
    let buf = '';
    c.on('error', () => {});
    c.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const len = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const get = buf.startsWith('GET');
        buf = buf.slice(end + 4 + len);
        c.write(get ? NEXT : ACCEPTED);
      }
    });
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(name, resolve); });
  const client = new RuntimeClient('127.0.0.1:9001', { path: name });
  try {
    // The invoke loop's own path, with a handler of the shape most functions have; the
    // throw-away Runtime's 'beforeExit' listener is removed again.
    const listeners = process.listeners('beforeExit');
    const rt = new Runtime(client, async (event) => ({ statusCode: 200, body: JSON.stringify(event) }), { streaming: false, isAsync: true });
    for (const l of process.listeners('beforeExit')) if (!listeners.includes(l)) process.off('beforeExit', l);
    let r = await client.next();
    await rt.handleOnce(r.headers['lambda-runtime-aws-request-id'], r.headers, r.body);
    // Node.js 24's path too (runtime.cjs handleAwaited).
    r = await client.next();
    await rt.handleAwaited(r.headers['lambda-runtime-aws-request-id'], r.headers, r.body);
    await client.next();
  } finally {
    // Closed through, both ends: the runtime then blocks reading its assignment, and whatever
    // of this was still pending (the server's end seeing the close, its callbacks, compiled for
    // the first time) would run in the cold start instead, ~2 ms of it measured here.
    client.conn.socket?.destroy();
    await new Promise((resolve) => {
      const bound = setTimeout(resolve, 500);
      server.close(() => { clearTimeout(bound); resolve(); });
    });
  }
}

/**
 * Only for a runtime waiting in the prewarmed pool (its boot environment says STRATUS_POOLED=1),
 * where a warm-up is free. A runtime started for a known function has its assignment waiting
 * already: a warm-up would only delay it (by 8-12 ms here; its cold start measured ~85 ms with it,
 * ~75 ms without), so it neither does one nor loads this file.
 */
async function warmUp() {
  // The privilege drop's calls, to the identity this process already has: each costs ~0.3 ms
  // more the first time (measured in a cold start: setgroups 0.3 ms, then 0.09).
  if (process.getuid() === 0) {
    try {
      process.setgroups(process.getgroups());
      process.setgid(process.getgid());
      process.setuid(0);
    } catch { /* not allowed here: the assignment's drop reports it */ }
  }
  // The path a handler is loaded by (a CommonJS .js file, its package scope, the handler's
  // checks): ~0.6 ms of a cold start when this is its first use.
  checkHandlerSignature(handlerMetadata(await load(path.join(__dirname, 'prewarm'), 'index.handler')));
  await import('./prewarm.mjs');
  // Loaded at init by a function that streams or uses awslambda.HttpResponseStream.
  require('./response-stream.cjs');
  // JSON both ways (events and results). No allocation loop to set off scavenges: the loading
  // above already does, and more made V8 grow the young generation to 4 MiB before the function
  // is even loaded (it is tuned to stay small only after that), which the environment then kept.
  const sample = [];
  for (let i = 0; i < 500; i++) sample.push({ i, s: String(i) });
  JSON.parse(JSON.stringify(sample));
  try {
    await runtimeApiRoundTrip();
  } catch {
    // Only a head start: a host without abstract Unix sockets loses nothing but the warm-up.
  }
  // Timers: the end of every invocation sets one (idle-gc.cjs), which the warm-up's invocations do
  // not; node's timer code compiled at the first invocation's end took ~0.3 ms of it. None is
  // left pending.
  clearTimeout(setTimeout(() => {}, 60_000).unref());
  await new Promise((resolve) => setTimeout(resolve, 1));
}

module.exports = { warmUp };
