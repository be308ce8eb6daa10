import type { CodeStore } from '../../control/index.js';
import { RestResponse } from '../rest.js';

const XML = { 'content-type': 'application/xml' };

/** A Host header: a name, IPv4 or bracketed IPv6 address, and an optional port. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/**
 * Where a download URL handed to a client points: the server as that client reached it (its Host
 * header), as a presigned S3 URL is one the caller can fetch. The server's own listen address is
 * not: 0.0.0.0 behind `--host 0.0.0.0`, or another port behind a port mapping or a tunnel. The
 * listen address (`own`) when the request names no usable host.
 */
export function downloadBase(headers: Record<string, string | string[] | undefined>, own: () => string): string {
  const host = headers.host;
  return typeof host === 'string' && HOST.test(host) ? `http://${host}` : own();
}

/**
 * A download URL Stratus signed (GetFunction's Code.Location, a layer version's Content.Location),
 * answered as a presigned S3 URL is: 403 when the signature is not ours or has expired, 404 when
 * `load` finds nothing (`gone` says what), else the zip.
 */
export async function signedDownload(
  code: CodeStore, signed: { name: string; version: string }, query: Record<string, unknown>, load: () => Promise<Buffer | undefined>, gone: string,
): Promise<RestResponse> {
  if (!code.verifyLocation(signed.name, signed.version, query['X-Stratus-Expires'], query['X-Stratus-Signature'], Date.now())) {
    return new RestResponse(403, '<Error><Code>AccessDenied</Code><Message>Request has expired or the signature does not match</Message></Error>', XML);
  }
  const zip = await load();
  if (!zip) return new RestResponse(404, `<Error><Code>NoSuchKey</Code><Message>${gone}</Message></Error>`, XML);
  return new RestResponse(200, zip, { 'content-type': 'application/zip', 'content-length': String(zip.length) });
}
