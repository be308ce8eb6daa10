import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import os from 'node:os';
import { heldBy, isHostAddress, peerOwner, peerSocket } from '../../src/environments/peer.js';

const peerUid = async (client: { address: string; port: number }, server: { address: string; port: number }) => (await peerSocket(client, server))?.uid ?? null;

const isRoot = process.getuid?.() === 0;
const UID = 54_321;

/**
 * Connects to `port` on `host` as uid UID from each of `binds` (local address and port), and
 * resolves with the uid peerSocket finds for each accepted connection, in the order accepted.
 */
async function uidsSeen(listenHost: string, host: string, binds: Array<{ localAddress: string; localPort?: number }>): Promise<Array<number | null>> {
  const found: Array<Promise<number | null>> = [];
  const server = net.createServer();
  const all = new Promise<void>((resolve) => {
    server.on('connection', (s) => {
      found.push(peerUid({ address: s.remoteAddress!, port: s.remotePort! }, { address: s.localAddress!, port: s.localPort! }).finally(() => s.end()));
      if (found.length === binds.length) resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const port = (server.address() as net.AddressInfo).port;
  const script = `
    const net = require('node:net');
    for (const b of ${JSON.stringify(binds.map((b) => ({ ...b, localPort: b.localPort === -1 ? port : b.localPort })))}) {
      const s = net.connect({ host: ${JSON.stringify(host)}, port: ${port}, ...b });
      s.on('error', (e) => { console.error(e.message); process.exit(1); });
      s.resume();
    }`;
  const child = spawn(process.execPath, ['-e', script], { uid: UID, gid: UID, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<void>((_, reject) => child.on('exit', (code) => { if (code) reject(new Error(`client exited ${code}: ${err}`)); }));
  try {
    await Promise.race([all, exited]);
    return await Promise.all(found);
  } finally {
    child.kill();
    server.close();
  }
}

test('the owner of a loopback connection is found by its whole four-tuple', async (t) => {
  if (!isRoot) return t.skip('needs root, to connect as another uid');
  // From other loopback addresses, one bound to the server's own port: matched on ports alone,
  // that connection found the server's accepted socket (uid 0) as often as its own.
  const seen = await uidsSeen('127.0.0.1', '127.0.0.1', [
    { localAddress: '127.0.0.2', localPort: -1 }, { localAddress: '127.0.0.3', localPort: -1 }, { localAddress: '127.0.0.4' }, { localAddress: '127.0.0.1' },
  ]);
  assert.deepEqual(seen, [UID, UID, UID, UID]);
});

test('an IPv4 client of a dual-stack listener (an IPv4-mapped address) is found', async (t) => {
  if (!isRoot) return t.skip('needs root, to connect as another uid');
  let seen: Array<number | null>;
  try {
    seen = await uidsSeen('::', '127.0.0.1', [{ localAddress: '127.0.0.5' }]);
  } catch (e) {
    if (/EAFNOSUPPORT|EADDRNOTAVAIL/.test(String(e))) return t.skip('no IPv6 on this host');
    throw e;
  }
  assert.deepEqual(seen, [UID]);
});

test('no connection, or one of other addresses, has no owner', async () => {
  assert.equal(await peerUid({ address: '127.0.0.9', port: 1 }, { address: '127.0.0.1', port: 2 }), null);
  assert.equal(await peerUid({ address: 'not an address', port: 1 }, { address: '127.0.0.1', port: 2 }), null);
});

test('a socket its process closed (orphaned: uid 0 in /proc/net/tcp) has no owner to tell; a half-closed one still has its own', async (t) => {
  if (!isRoot) return t.skip('needs root, to connect as another uid');
  // Half-open allowed: the server's end stays open, as while a request is being processed.
  const server = net.createServer({ allowHalfOpen: true });
  const seen: Array<{ owner: number | null; uid: number | null }> = [];
  let accepted = 0;
  let looked = 0;
  const both = new Promise<void>((resolve) => {
    server.on('connection', (s) => {
      // In the order accepted (the lookups may end in either order).
      const n = accepted++;
      s.resume();
      // The client's FIN is in: it closed (or shut down writing) before the server looked. (A
      // closed socket whose FIN is acknowledged is in FIN_WAIT2, a stub without its owner.)
      s.on('end', async () => {
        await new Promise((r) => setTimeout(r, 100));
        const c = { address: s.remoteAddress!, port: s.remotePort! };
        const me = { address: s.localAddress!, port: s.localPort! };
        seen[n] = { owner: await peerOwner(c, me), uid: await peerUid(c, me) };
        s.destroy();
        if (++looked === 2) resolve();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  // First a connection closed at once (a request sent, its answer never read), then one only
  // shut down for writing while its process holds it.
  const script = `
    const net = require('node:net');
    const a = net.connect({ host: '127.0.0.1', port: ${port} }, () => {
      a.write('GET / HTTP/1.1\\r\\n\\r\\n', () => a.destroy());
      a.on('close', () => {
        const b = net.connect({ host: '127.0.0.1', port: ${port}, allowHalfOpen: true }, () => b.end());
        setTimeout(() => process.exit(0), 3000);
      });
    });`;
  const child = spawn(process.execPath, ['-e', script], { uid: UID, gid: UID, stdio: 'ignore' });
  try {
    await both;
  } finally {
    child.kill();
    server.close();
  }
  assert.equal(seen[0]!.uid, 0, 'the kernel lists an orphaned socket as uid 0');
  assert.equal(seen[0]!.owner, null);
  assert.deepEqual(seen[1], { owner: UID, uid: UID });
});

test('lookups that arrive together share the reads of /proc/net/tcp: one in flight, and the next', async () => {
  const server = net.createServer((s) => s.resume());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const clients = await Promise.all(Array.from({ length: 30 }, () => new Promise<net.Socket>((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
  })));
  // Counted, not changed: each read of a table is one readFile of it.
  const reads: string[] = [];
  const readFile = fs.promises.readFile;
  fs.promises.readFile = ((file: string, ...rest: unknown[]) => { reads.push(String(file)); return (readFile as (...a: unknown[]) => unknown)(file, ...rest); }) as typeof readFile;
  try {
    // One lookup, whose read begins (it cannot end without turning the event loop), then the
    // other 29 at once: the read in flight may predate their connections, so they wait for the
    // next one, and share it. Every connection is found.
    const first = peerSocket({ address: '127.0.0.1', port: clients[0]!.localPort! }, { address: '127.0.0.1', port });
    for (let i = 0; i < 5; i++) await null;
    assert.deepEqual(reads, ['/proc/net/tcp'], 'the first read has begun');
    const found = await Promise.all([first, ...clients.slice(1).map((c) => peerSocket({ address: '127.0.0.1', port: c.localPort! }, { address: '127.0.0.1', port }))]);
    for (const f of found) assert.ok(f && f.uid === process.getuid!() && f.inode > 0, JSON.stringify(f));
    assert.deepEqual(reads, ['/proc/net/tcp', '/proc/net/tcp']);
    // A lookup after those reads ended starts a read of its own.
    reads.length = 0;
    assert.ok(await peerSocket({ address: '127.0.0.1', port: clients[0]!.localPort! }, { address: '127.0.0.1', port }));
    assert.deepEqual(reads, ['/proc/net/tcp']);
  } finally {
    fs.promises.readFile = readFile;
    for (const c of clients) c.destroy();
    server.close();
  }
});

test('who holds a socket: the newest process first, and no more descriptors than the budget', async () => {
  const server = net.createServer((s) => s.resume());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  // A process that opens `n` descriptors, then connects, and says its socket's port.
  const holder = async (n: number) => {
    const child = spawn(process.execPath, ['-e', `
      for (let i = 0; i < ${n}; i++) require('node:fs').openSync('/dev/null', 'r');
      const s = require('node:net').connect(${port}, '127.0.0.1', () => console.log(s.localPort));
      setInterval(() => {}, 60000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const localPort = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
      child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
    const sock = await peerSocket({ address: '127.0.0.1', port: localPort }, { address: '127.0.0.1', port });
    assert.ok(sock && sock.inode > 0);
    return { pid: child.pid!, inode: sock.inode, kill: () => child.kill() };
  };
  // The older process holds its socket behind 500 descriptors; the newer one, its own among few.
  const old = await holder(500);
  const young = await holder(0);
  try {
    assert.equal(await heldBy([old.pid, young.pid], old.inode), true);
    assert.equal(await heldBy([old.pid, young.pid], young.inode), true);
    assert.equal(await heldBy([young.pid], old.inode), false);
    // The newest is examined first (whichever pid it got: pids wrap around), and its socket is
    // found within a budget that the older process's descriptors alone would exhaust...
    assert.equal(await heldBy([old.pid, young.pid], young.inode, 200), true);
    // ...and past the budget the answer is no, even though the socket is held.
    assert.equal(await heldBy([old.pid, young.pid], old.inode, 200), false);
  } finally {
    old.kill();
    young.kill();
    server.close();
  }
});

test("the host's own addresses are told from others'", () => {
  for (const a of ['127.0.0.1', '127.3.4.5', '::1', '::ffff:127.0.0.2']) assert.ok(isHostAddress(a), a);
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) assert.ok(isHostAddress(i.address), i.address);
  for (const a of ['192.0.2.7', '::ffff:198.51.100.1', '2001:db8::1']) assert.ok(!isHostAddress(a), a);
});
