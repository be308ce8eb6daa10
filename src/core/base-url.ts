/** A Host header: a name, IPv4 or bracketed IPv6 address, and an optional port. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/**
 * The server as a client reached it, for URLs handed to that client to use (a queue's URL, a
 * code download's): its Host header, as AWS's URLs name the endpoint the caller used. The
 * server's own listen address is not one: 0.0.0.0 behind `--host 0.0.0.0`, or another port
 * behind a port mapping or a tunnel. The listen address (`own`) when the request names no
 * usable host.
 */
export function clientBaseUrl(host: string | string[] | undefined, own: () => string): string {
  return typeof host === 'string' && HOST.test(host) ? `http://${host}` : own();
}
