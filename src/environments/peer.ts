import fs from 'node:fs';
import net, { type Socket } from 'node:net';
import os from 'node:os';
import type { TcpEndpoint } from '../ports/execution.js';

/** /proc/net/tcp* states of sockets whose uid is no longer the owner's (TIME_WAIT, CLOSE). */
const GONE_STATES = new Set(['06', '07']);

/** The socket of a connection's client end: its owner's uid and inode. */
export interface PeerSocket {
  uid: number;
  /** 0 when no process holds the socket any more (closed by its owner: an orphan). */
  inode: number;
}

/**
 * The uid owning the client end of a connection, when it can be told: null when its socket is not
 * found (or /proc/net cannot be read), or when no process holds it any more. A socket its process
 * closed is an orphan (inode 0), and past its FIN the kernel lists it as uid 0 whoever owned it:
 * a function that sent a request and closed its socket at once passed for root. A client that
 * only shut down its sending side still holds its socket, and is told by its uid.
 */
export async function peerOwner(client: TcpEndpoint, server: TcpEndpoint): Promise<number | null> {
  const sock = await peerSocket(client, server);
  if (!sock || sock.inode === 0) return null;
  return sock.uid;
}

/**
 * How many descriptors heldBy examines at most before it answers false. An environment may run
 * 1024 processes of 1024 descriptors each: a million readlinks, seconds of work for one
 * connection, which the environment could repeat at will. Its runtime's connection is made by its
 * newest process (curl, or the runtime itself when it spawned nothing since), examined first; a
 * runtime holds tens of descriptors, a JVM a few hundred.
 */
export const HELD_BY_BUDGET = 8192;

/**
 * Whether one of the processes `pids` holds the socket `inode` (an open descriptor on it).
 *
 * A socket keeps the uid of the process that made it wherever it goes: handed over a Unix socket
 * to another environment, whose uid is later given to another function's environment, it passes
 * for that environment's. Its holder cannot pass so: it must be one of the environment's own
 * processes.
 *
 * Newest first, one read at a time (off the event loop, one threadpool request at a time), and
 * no more than `budget` descriptors in all: past it, false (refused).
 */
export async function heldBy(pids: readonly number[], inode: number, budget = HELD_BY_BUDGET): Promise<boolean> {
  if (inode === 0) return false;
  const target = `socket:[${inode}]`;
  let left = budget;
  for (const pid of await newestFirst(pids)) {
    let fds: string[];
    try { fds = await fs.promises.readdir(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      if (left-- <= 0) return false;
      try { if (await fs.promises.readlink(`/proc/${pid}/fd/${fd}`) === target) return true; } catch { /* closed meanwhile */ }
    }
  }
  return false;
}

/** The host's pid_max, read once (0 when it cannot be). */
let pidMax: Promise<number> | null = null;

/**
 * Processes, newest first. Pids are handed out upwards from the last one made (the last field of
 * /proc/loadavg), wrapping around past pid_max (32768 on many hosts, soon reached): the newest
 * are the nearest below the last one, cyclically. Highest first when that cannot be read.
 */
async function newestFirst(pids: readonly number[]): Promise<number[]> {
  pidMax ??= fs.promises.readFile('/proc/sys/kernel/pid_max', 'utf8').then((t) => Number(t) || 0, () => 0);
  const max = await pidMax;
  const last = await fs.promises.readFile('/proc/loadavg', 'utf8').then((t) => Number(t.trim().split(/\s+/)[4]), () => NaN);
  const age = max > 0 && Number.isInteger(last) ? (pid: number) => (((last - pid) % max) + max) % max : (pid: number) => -pid;
  return [...pids].sort((a, b) => age(a) - age(b));
}

/**
 * The client end's socket (its owner's uid and inode) of a loopback TCP connection, from
 * /proc/net/tcp and tcp6: the socket whose local address and port are the client's and whose
 * remote address and port are the server's, both in full. Null when not found.
 *
 * The whole four-tuple, not the ports alone: environments share the host's network, so a function
 * can bind any 127.0.0.0/8 address with any port. Matched on ports, a connection from 127.0.0.2
 * bound to the server's own port found the server's accepted socket (uid 0: "not an
 * environment"), and one bound to another environment's client port found that environment's
 * line (its uid: admitted to its Runtime API). The four-tuple of a live connection is unique.
 */
export async function peerSocket(client: TcpEndpoint, server: TcpEndpoint): Promise<PeerSocket | null> {
  const c = procAddresses(client);
  const s = procAddresses(server);
  if (!c || !s) return null;
  if (c.v4 && s.v4) {
    const found = lookup(await TCP.fresh(), `${c.v4}:${hexPort(client.port)}`, `${s.v4}:${hexPort(server.port)}`);
    if (found) return found;
  }
  return lookup(await TCP6.fresh(), `${c.v6}:${hexPort(client.port)}`, `${s.v6}:${hexPort(server.port)}`);
}

/**
 * One of the /proc/net tables, read in the threadpool and shared. A function can make them huge
 * (tens of thousands of sockets: unaccepted connections to listeners of its own), and each read
 * then takes a fraction of a second: read on the event loop for each connection, they stalled the
 * server. Now one read at a time (of either table, see `serially`), whose answer every lookup that
 * waits for it shares.
 */
class NetTable {
  private reading: Promise<Buffer | null> | null = null;
  private queued: Promise<Buffer | null> | null = null;
  /** Whether the read in flight has begun (it may wait for the other table's). */
  private begun = false;
  constructor(private readonly file: string) {}

  /**
   * The table as read after this call: by a read started now or, while one is in flight (it may
   * have begun before the caller's connection was made), by the next one, which every caller
   * that arrived meanwhile shares. Null when it cannot be read.
   */
  fresh(): Promise<Buffer | null> {
    if (!this.reading) return this.start();
    if (!this.begun) return this.reading;
    this.queued ??= this.reading.then(() => {
      this.queued = null;
      // A read started since the one in flight ended (by a caller that came in between) is as fresh.
      return this.reading ?? this.start();
    });
    return this.queued;
  }

  private start(): Promise<Buffer | null> {
    this.begun = false;
    const p = serially(async () => {
      this.begun = true;
      try { return await fs.promises.readFile(this.file); } catch { return null; }
    });
    this.reading = p;
    void p.then(() => { if (this.reading === p) this.reading = null; });
    return p;
  }
}

const TCP = new NetTable('/proc/net/tcp');
const TCP6 = new NetTable('/proc/net/tcp6');
let tableReads: Promise<unknown> = Promise.resolve();

/** Runs the reads of the tables one after the other: one threadpool thread at most. */
function serially<T>(read: () => Promise<T>): Promise<T> {
  const p = tableReads.then(read);
  tableReads = p.catch(() => {});
  return p;
}

/** Both ends of a connection, as the socket reports them (read when it is accepted: see server.ts). */
export function socketEnds(s: Socket): { client: TcpEndpoint; server: TcpEndpoint } {
  return { client: { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 }, server: { address: s.localAddress ?? '', port: s.localPort ?? 0 } };
}

/** Whether `address` is one of this host's own: loopback, or an address of one of its interfaces. */
export function isHostAddress(address: string): boolean {
  const a = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').split('%')[0]!.toLowerCase();
  if (net.isIPv4(a) && a.startsWith('127.')) return true;
  if (a === '::1') return true;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) if (i.address.split('%')[0]!.toLowerCase() === a) return true;
  }
  return false;
}

function hexPort(p: number): string {
  return p.toString(16).toUpperCase().padStart(4, '0');
}

/** A 32-bit word of an address as /proc/net shows it: in the host's byte order. */
function word(bytes: number[]): string {
  const b = os.endianness() === 'LE' ? [...bytes].reverse() : bytes;
  return b.map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join('');
}

/**
 * An address as /proc/net/tcp (IPv4: v4) and tcp6 (v6) write it. An IPv4 address, or an
 * IPv4-mapped IPv6 one (a dual-stack listener's view of an IPv4 client), may be in either file.
 */
function procAddresses(e: TcpEndpoint): { v4: string | null; v6: string } | null {
  let addr = e.address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped) addr = mapped[1]!;
  if (net.isIPv4(addr)) {
    const b = addr.split('.').map(Number);
    return { v4: word(b), v6: word([0, 0, 0, 0]) + word([0, 0, 0, 0]) + word([0, 0, 0xff, 0xff]) + word(b) };
  }
  if (!net.isIPv6(addr)) return null;
  const bytes = ipv6Bytes(addr);
  if (!bytes) return null;
  let v6 = '';
  for (let i = 0; i < 16; i += 4) v6 += word(bytes.slice(i, i + 4));
  return { v4: null, v6 };
}

/** The 16 bytes of an IPv6 address (no zone; an embedded dotted IPv4 tail allowed). */
function ipv6Bytes(addr: string): number[] | null {
  let a = addr.split('%')[0]!;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (tail) {
    const b = tail[1]!.split('.').map(Number);
    a = a.slice(0, -tail[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...rest];
  if (groups.length !== 8) return null;
  const out: number[] = [];
  for (const g of groups) {
    const n = parseInt(g, 16);
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    out.push(n >> 8, n & 0xff);
  }
  return out;
}

/** The line of `local` -> `remote` in a table, searched in its bytes (no copy of a huge table as a string). */
function lookup(table: Buffer | null, local: string, remote: string): PeerSocket | null {
  if (!table) return null;
  const key = ` ${local} ${remote} `;
  let i = table.indexOf(key, 0, 'latin1');
  while (i >= 0) {
    const lineEnd = table.indexOf(0x0a, i);
    // After the addresses: st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    const f = table.toString('latin1', i + key.length, lineEnd < 0 ? undefined : lineEnd).trim().split(/\s+/);
    if (!GONE_STATES.has(f[0]!)) return { uid: Number(f[4]), inode: Number(f[6]) };
    i = table.indexOf(key, i + 1, 'latin1');
  }
  return null;
}
