import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import os from 'node:os';
import { isHostAddress, peerOwner, peerSocket } from '../../src/environments/peer.js';

const peerUid = (client: { address: string; port: number }, server: { address: string; port: number }) => peerSocket(client, server)?.uid ?? null;

const isRoot = process.getuid?.() === 0;
const UID = 54_321;

/**
 * Connects to `port` on `host` as uid UID from each of `binds` (local address and port), and
 * resolves with the uid peerSocket finds for each accepted connection, in the order accepted.
 */
async function uidsSeen(listenHost: string, host: string, binds: Array<{ localAddress: string; localPort?: number }>): Promise<Array<number | null>> {
  const found: Array<number | null> = [];
  const server = net.createServer();
  const all = new Promise<void>((resolve) => {
    server.on('connection', (s) => {
      found.push(peerUid({ address: s.remoteAddress!, port: s.remotePort! }, { address: s.localAddress!, port: s.localPort! }));
      s.end();
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
  } finally {
    child.kill();
    server.close();
  }
  return found;
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

test('no connection, or one of other addresses, has no owner', () => {
  assert.equal(peerUid({ address: '127.0.0.9', port: 1 }, { address: '127.0.0.1', port: 2 }), null);
  assert.equal(peerUid({ address: 'not an address', port: 1 }, { address: '127.0.0.1', port: 2 }), null);
});

test('a socket its process closed (orphaned: uid 0 in /proc/net/tcp) has no owner to tell; a half-closed one still has its own', async (t) => {
  if (!isRoot) return t.skip('needs root, to connect as another uid');
  // Half-open allowed: the server's end stays open, as while a request is being processed.
  const server = net.createServer({ allowHalfOpen: true });
  const seen: Array<{ owner: number | null; uid: number | null }> = [];
  const both = new Promise<void>((resolve) => {
    server.on('connection', (s) => {
      s.resume();
      // The client's FIN is in: it closed (or shut down writing) before the server looked. (A
      // closed socket whose FIN is acknowledged is in FIN_WAIT2, a stub without its owner.)
      s.on('end', async () => {
        await new Promise((r) => setTimeout(r, 100));
        const c = { address: s.remoteAddress!, port: s.remotePort! };
        const me = { address: s.localAddress!, port: s.localPort! };
        seen.push({ owner: peerOwner(c, me), uid: peerUid(c, me) });
        s.destroy();
        if (seen.length === 2) resolve();
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

test("the host's own addresses are told from others'", () => {
  for (const a of ['127.0.0.1', '127.3.4.5', '::1', '::ffff:127.0.0.2']) assert.ok(isHostAddress(a), a);
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) assert.ok(isHostAddress(i.address), i.address);
  for (const a of ['192.0.2.7', '::ffff:198.51.100.1', '2001:db8::1']) assert.ok(!isHostAddress(a), a);
});
