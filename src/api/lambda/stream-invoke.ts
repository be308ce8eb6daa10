import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { crc32 } from '../../code/crc32.js';
import { StratusError } from '../../core/errors.js';
import type { ResponseStreamSink } from '../../ports/execution.js';
import { writeRestJsonError } from '../errors.js';
import { claimTraffic, whenDrained } from '../raw.js';
import type { LambdaApiDeps } from './index.js';
import { invokeRequestOf, readInvokeWire } from './invoke-wire.js';

const STREAM_PATH = /^\/2021-11-15\/functions\/([^/?]+)\/response-streaming-invocations\/?(?:\?(.*))?$/;
const STREAM_TYPES = ['RequestResponse', 'DryRun'] as const;
const EVENT_STREAM = 'application/vnd.amazon.eventstream';

/**
 * One message of AWS's event stream encoding (application/vnd.amazon.eventstream): a prelude
 * (total length, headers length, its CRC-32), string-typed headers, the payload, a CRC-32 of it all.
 */
export function eventStreamMessage(headers: Record<string, string>, payload: Buffer): Buffer {
  const hs: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(7, 1 + n.length); // string
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    hs.push(h);
  }
  const headerBytes = Buffer.concat(hs);
  const total = 12 + headerBytes.length + payload.length + 4;
  const msg = Buffer.alloc(total);
  msg.writeUInt32BE(total, 0);
  msg.writeUInt32BE(headerBytes.length, 4);
  msg.writeUInt32BE(crc32(msg.subarray(0, 8), 0), 8);
  headerBytes.copy(msg, 12);
  payload.copy(msg, 12 + headerBytes.length);
  msg.writeUInt32BE(crc32(msg.subarray(0, total - 4), 0), total - 4);
  return msg;
}

const chunkMessage = (payload: Buffer) =>
  eventStreamMessage({ ':event-type': 'PayloadChunk', ':content-type': 'application/octet-stream', ':message-type': 'event' }, payload);

function completeMessage(c: { ErrorCode?: string; ErrorDetails?: string; LogResult?: string }): Buffer {
  return eventStreamMessage({ ':event-type': 'InvokeComplete', ':content-type': 'application/json', ':message-type': 'event' }, Buffer.from(JSON.stringify(c)));
}

/**
 * Writes the answer as the function streams it: PayloadChunk events as chunks arrive, at the
 * client's pace (write says when it is behind), InvokeComplete at the end.
 */
class EventStreamSink implements ResponseStreamSink {
  started = false;
  executedVersion: string | undefined;
  /** A streamed failure the runtime reported (after or before its first bytes). */
  error: { errorType: string; errorMessage: string } | undefined;

  constructor(private readonly res: ServerResponse, private readonly requestId: string) {}

  head(): void {
    if (this.res.headersSent) return;
    const h: Record<string, string> = { 'content-type': EVENT_STREAM, 'x-amzn-RequestId': this.requestId };
    if (this.executedVersion) h['X-Amz-Executed-Version'] = this.executedVersion;
    this.res.writeHead(200, h);
  }

  start(): void {
    this.started = true;
    this.head();
  }

  write(chunk: Buffer): boolean {
    if (chunk.length === 0 || this.res.destroyed) return true;
    this.head();
    return this.res.write(chunkMessage(chunk));
  }

  drained(f: () => void): void {
    whenDrained(this.res, f);
  }

  end(error?: { errorType: string; errorMessage: string }): void {
    if (error) this.error = error;
  }

  complete(c: { ErrorCode?: string; ErrorDetails?: string; LogResult?: string }): void {
    this.head();
    this.res.end(completeMessage(c));
  }
}

/** The error a failed invocation's payload describes, for InvokeComplete's ErrorCode / ErrorDetails. */
function failure(errorType: string | undefined, payload: Buffer): { ErrorCode: string; ErrorDetails: string } {
  let details = payload.toString();
  try {
    const p = JSON.parse(details);
    if (p && typeof p.errorMessage === 'string') details = p.errorMessage;
  } catch { /* not JSON: as posted */ }
  return { ErrorCode: errorType ?? 'Unhandled', ErrorDetails: details };
}

/**
 * InvokeWithResponseStream (POST /2021-11-15/functions/{name}/response-streaming-invocations):
 * the answer is an event stream. A streaming function's chunks go out as they are written; any
 * other function's result is one PayloadChunk. InvokeComplete ends it, with the error (ErrorCode,
 * ErrorDetails) of a failed invocation and the log tail (LogResult) when LogType is Tail. Errors
 * before the function runs (not found, throttled, bad request) are ordinary REST errors.
 */
export function registerStreamInvoke(http: FastifyInstance, deps: LambdaApiDeps): void {
  claimTraffic(http, (req) => req.method === 'POST' && STREAM_PATH.test(req.url ?? ''), (req, res) => streamInvoke(deps, req, res));
}

async function streamInvoke(deps: LambdaApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const s = new EventStreamSink(res, requestId);
  try {
    const ir = invokeRequestOf(await readInvokeWire(req, STREAM_PATH, 'InvokeWithResponseStream'), STREAM_TYPES);
    ir.requestId = requestId;
    ir.onResolved = (v) => { s.executedVersion = v; };
    if (ir.invocationType === 'RequestResponse') ir.stream = s;
    const out = await deps.invoker.invoke(ir);
    if (out.statusCode !== 200) {
      res.writeHead(out.statusCode, { 'x-amzn-RequestId': requestId, 'X-Amz-Executed-Version': out.executedVersion, 'content-length': '0' });
      res.end();
      return;
    }
    s.executedVersion = out.executedVersion;
    const done: { ErrorCode?: string; ErrorDetails?: string; LogResult?: string } = {};
    if (s.error) Object.assign(done, { ErrorCode: s.error.errorType, ErrorDetails: s.error.errorMessage });
    else if (out.functionError) Object.assign(done, failure(out.errorType, out.payload));
    else if (!out.streamed && !s.started) s.write(out.payload);
    if (out.logResult !== undefined) done.LogResult = out.logResult;
    s.complete(done);
  } catch (err) {
    if (res.headersSent) {
      // The stream is open: end it as a failed invocation.
      s.complete(err instanceof StratusError ? { ErrorCode: err.code, ErrorDetails: err.message } : { ErrorCode: 'ServiceException', ErrorDetails: String(err) });
      return;
    }
    writeRestJsonError(res, err, requestId);
  }
}
