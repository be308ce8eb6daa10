import { createHash } from 'node:crypto';
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';

/**
 * Opens the node's one NATS connection (shared by the cluster adapters). `url` is a NATS URL or
 * a comma-separated list of them; credentials in it (`nats://user:pass@host`, `nats://token@host`)
 * are sent as NATS credentials (the nats.js client would otherwise ignore them). The first
 * connect fails with a clear error; once connected the client reconnects forever, buffering what
 * is published meanwhile, and pings every 10 s so that a dead server is noticed in seconds.
 */
export async function openNats(url: string, name: string): Promise<NatsConnection> {
  const { servers, shown, credentials } = parseNatsUrl(url);
  const options: ConnectionOptions = {
    servers,
    name,
    ...credentials,
    timeout: 10_000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    pingInterval: 10_000,
    maxPingOut: 3,
  };
  try {
    return await connect(options);
  } catch (e) {
    throw new Error(`NATS at ${shown} is unreachable: ${(e as Error).message}`);
  }
}

/**
 * A cluster's namespace on NATS: the first 12 hex of the sha256 of its database URL without the
 * password. Nodes sharing a database are one cluster; two clusters on one NATS never share a
 * subject or a bucket. (The same database reached under another host name or user is another
 * id: give every node the same URL.)
 */
export function clusterId(databaseUrl: string): string {
  return createHash('sha256').update(withoutPassword(databaseUrl)).digest('hex').slice(0, 12);
}

function withoutPassword(databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    // libpq's key=value form: host=... password=... dbname=...
    return databaseUrl.replace(/(^|\s)password\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S*)/gi, '').trim();
  }
  url.password = '';
  if (url.searchParams.has('password')) url.searchParams.delete('password');
  return url.toString();
}

function parseNatsUrl(url: string): {
  servers: string[];
  shown: string;
  credentials: Pick<ConnectionOptions, 'user' | 'pass' | 'token'>;
} {
  const servers: string[] = [];
  let credentials: Pick<ConnectionOptions, 'user' | 'pass' | 'token'> = {};
  for (const raw of url.split(',').map((s) => s.trim()).filter(Boolean)) {
    let u: URL;
    try {
      u = new URL(raw.includes('://') ? raw : `nats://${raw}`);
    } catch {
      servers.push(raw); // let the client judge it
      continue;
    }
    if (u.username) {
      const user = decodeURIComponent(u.username);
      credentials = u.password ? { user, pass: decodeURIComponent(u.password) } : { token: user };
    }
    servers.push(`${u.protocol}//${u.host}`);
  }
  return { servers, shown: servers.join(',') || url, credentials };
}
