import type { CodeStore } from '../../control/index.js';
import { RestResponse } from '../rest.js';

const XML = { 'content-type': 'application/xml' };

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
