import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { StratusError, isStratusError } from '../core/errors.js';

/**
 * Error shapes whose model member is `Message` (capital M) rather than `message`, in
 * botocore's lambda 2015-03-31 model. Their bodies carry both spellings: `Message` is the
 * modeled member (botocore puts it in the parsed error, SDK v3 reads it), `message` is what
 * every client also falls back to.
 */
const CAPITAL_MESSAGE = new Set([
  'ResourceNotFoundException', 'ServiceException', 'InvalidZipFileException', 'ResourceInUseException',
  'InvalidRuntimeException', 'EC2AccessDeniedException', 'EC2ThrottledException', 'EC2UnexpectedException',
  'ENILimitReachedException', 'InvalidSecurityGroupIDException', 'InvalidSubnetIDException',
  'SubnetIPAddressLimitReachedException', 'KMSAccessDeniedException', 'KMSDisabledException',
  'KMSInvalidStateException', 'KMSNotFoundException', 'EFSIOException', 'EFSMountConnectivityException',
  'EFSMountFailureException', 'EFSMountTimeoutException', 'CodeSigningConfigNotFoundException',
  'CodeVerificationFailedException', 'InvalidCodeSignatureException', 'NoPublishedVersionException',
  'RecursiveInvocationException', 'SnapStartException', 'SnapStartNotReadyException', 'SnapStartTimeoutException',
]);

/** Every response carries a request id, errors included (the SDKs report it). */
/** Gives a reply an x-amzn-RequestId unless it has one (AWS clients read it as the request id). */
export function withRequestId(reply: FastifyReply): FastifyReply {
  if (!reply.getHeader('x-amzn-requestid')) reply.header('x-amzn-RequestId', randomUUID());
  return reply;
}

/** Turns any thrown value into a StratusError (unknown failures become ServiceException). */
export function toStratusError(err: unknown): StratusError {
  if (isStratusError(err)) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  // Fastify's own errors (body too large, bad JSON, bad content type).
  if (e && e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new StratusError('RequestEntityTooLargeException', 413, 'Request must be smaller than 6291456 bytes for the InvokeFunction operation');
  }
  if (e && (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || e.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')) {
    return new StratusError('UnsupportedMediaTypeException', 415, e.message ?? 'Unsupported media type');
  }
  if (e && (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || e instanceof SyntaxError)) {
    return new StratusError('InvalidRequestContentException', 400, 'Could not parse request body into json: ' + (e.message ?? ''));
  }
  if (e && typeof e.statusCode === 'number' && e.statusCode === 404) {
    return new StratusError('ResourceNotFoundException', 404, e.message ?? 'Not found');
  }
  return new StratusError('ServiceException', 500, e?.message ?? String(err));
}

/** A REST-JSON error as status, headers (besides the request id) and body. */
export function restJsonError(err: unknown): { status: number; headers: Record<string, string>; body: string } {
  const e = toStratusError(err);
  const type = e.code === 'ServiceException' || e.status === 500 ? 'Service' : 'User';
  const body: Record<string, unknown> = { Type: type, message: e.message };
  if (CAPITAL_MESSAGE.has(e.code)) body.Message = e.message;
  Object.assign(body, e.extra);
  const headers: Record<string, string> = { 'x-amzn-ErrorType': e.code, 'content-type': 'application/json' };
  if (e.status === 429 && e.extra.retryAfterSeconds) headers['Retry-After'] = String(e.extra.retryAfterSeconds);
  delete body.retryAfterSeconds;
  return { status: e.status, headers, body: JSON.stringify(body) };
}

/**
 * REST-JSON services (Lambda, API Gateway v2): x-amzn-ErrorType header plus a JSON body
 * with Type and message (and Message where the model declares that member; botocore and SDK v3 read either).
 */
export function sendRestJsonError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, headers, body } = restJsonError(err);
  withRequestId(reply);
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply.code(status).send(body);
}

/** The same on node's raw response (raw routes). */
export function writeRestJsonError(res: ServerResponse, err: unknown, requestId: string = randomUUID()): void {
  const { status, headers, body } = restJsonError(err);
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(status, { ...headers, 'x-amzn-RequestId': requestId, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/**
 * AWS JSON 1.0/1.1 services (CloudWatch Logs, SQS, EventBridge, Step Functions):
 * `__type` names the error; status is the catalogue's (400 for client errors).
 */
export function sendAwsJsonError(reply: FastifyReply, err: unknown, contentType = 'application/x-amz-json-1.1'): FastifyReply {
  const e = toStratusError(err);
  const body: Record<string, unknown> = { __type: e.code, message: e.message };
  for (const [k, v] of Object.entries(e.extra)) if (k !== 'retryAfterSeconds' && k !== 'queryErrorCode') body[k] = v;
  if (typeof e.extra.queryErrorCode === 'string') reply.header('x-amzn-query-error', e.extra.queryErrorCode);
  withRequestId(reply);
  reply.header('x-amzn-ErrorType', e.code);
  reply.header('content-type', contentType);
  return reply.code(e.status).send(JSON.stringify(body));
}
