import crypto from 'node:crypto';
import net from 'node:net';
import { connect } from 'nats';
import { serviceMissing, TEST_NATS_URL } from '../helpers/services.js';

/**
 * The NATS server (with JetStream) the cluster adapters' suites run against, from
 * STRATUS_TEST_NATS_URL (CI defaults it, see test/helpers/services.ts). Probed once with a short
 * connect timeout: a suite that needs it is skipped with the reason when it is missing, except
 * under CI where it runs and fails.
 *
 *   describe('... [NatsBlobStore]', natsSuite, () => { ... });
 *   it('...', async (t) => { if (natsUnavailable) return serviceMissing(t, 'NATS', natsUnavailable); ... });
 */
async function probeNats(): Promise<string | false> {
  if (!TEST_NATS_URL) return 'STRATUS_TEST_NATS_URL is not set';
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    nc = await connect({ servers: TEST_NATS_URL, timeout: 2000, reconnect: false, name: 'stratus-test-probe' });
    await nc.jetstreamManager(); // JetStream enabled for this account
    return false;
  } catch (e) {
    return `NATS with JetStream unreachable at ${TEST_NATS_URL}: ${(e as Error).message}`;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/** Why NATS cannot be used, or false when it can. */
export const natsUnavailable: string | false = await probeNats();

/** describe() options for a suite over NATS: skipped with the reason when it is missing (not under CI). */
export const natsSuite: { skip?: string } = natsUnavailable && !process.env.CI ? { skip: `NATS unavailable: ${natsUnavailable}` } : {};

/** For a single test: true when it must stop here (skipped, or failed under CI, with the reason). */
export function natsMissing(t: { skip(msg?: string): void }): boolean {
  if (!natsUnavailable) return false;
  serviceMissing(t, 'NATS', natsUnavailable);
  return true;
}

export function natsUrl(): string {
  if (!TEST_NATS_URL) throw new Error('NATS requested but STRATUS_TEST_NATS_URL is not set');
  return TEST_NATS_URL;
}

/** A cluster namespace no other test (or run) uses. */
export const freshClusterId = (): string => crypto.randomBytes(6).toString('hex');

/**
 * A TCP proxy in front of the NATS server, to cut a client's connection as a network failure
 * would: `cut()` drops every connection and refuses new ones until `restore()`.
 */
export async function natsProxy(): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const first = natsUrl().split(',')[0]!.trim();
  const upstream = new URL(first.includes('://') ? first : `nats://${first}`);
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) return client.destroy();
    const up = net.connect(Number(upstream.port || 4222), upstream.hostname);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        up.destroy();
      });
    }
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `nats://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        down = true;
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `check` holds (or fails after `ms`). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
