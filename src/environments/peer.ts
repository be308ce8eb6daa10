import fs from 'node:fs';

function hexPort(p: number): string {
  return p.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * The uid owning the client end of a loopback TCP connection, from /proc/net/tcp: the line whose
 * local address is the client's port and remote address is our port (IPv4, then IPv6). Null
 * when not found.
 */
export function peerUid(clientPort: number, serverPort: number): number | null {
  return lookup('/proc/net/tcp', clientPort, serverPort) ?? lookup('/proc/net/tcp6', clientPort, serverPort);
}

function lookup(file: string, clientPort: number, serverPort: number): number | null {
  let text: string;
  try { text = fs.readFileSync(file, 'latin1'); } catch { return null; }
  const local = `:${hexPort(clientPort)} `;
  const remote = `:${hexPort(serverPort)} `;
  let i = text.indexOf(local);
  while (i >= 0) {
    const lineStart = text.lastIndexOf('\n', i) + 1;
    const lineEnd = text.indexOf('\n', i);
    const f = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd).trim().split(/\s+/);
    // f[1] local, f[2] remote, f[7] uid
    if (f[1]?.endsWith(local.trimEnd()) && f[2]?.endsWith(remote.trimEnd())) return Number(f[7]);
    i = text.indexOf(local, i + 1);
  }
  return null;
}
