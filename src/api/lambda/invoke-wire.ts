import type { IncomingMessage } from 'node:http';
import { StratusError } from '../../core/errors.js';
import { rules, violation } from '../../core/validation.js';
import { SYNC_PAYLOAD_LIMIT, type InvokeRequest } from '../../invoke/index.js';
import { readBody } from '../raw.js';

const INVOCATION_TYPES = ['Event', 'RequestResponse', 'DryRun'] as const;
const LOG_TYPES = ['None', 'Tail'] as const;

/** What Invoke reads of a request. */
export interface InvokeWire {
  headers: Record<string, string | string[] | undefined>;
  query: { Qualifier?: unknown };
  params: { FunctionName?: string };
  raw: Buffer;
}

/** The InvokeRequest an Invoke-shaped request asks for (Invoke, InvokeWithResponseStream). */
export function invokeRequestOf(req: InvokeWire, types: readonly string[] = INVOCATION_TYPES): InvokeRequest {
  const h = req.headers;
  const type = header(h['x-amz-invocation-type']) ?? 'RequestResponse';
  if (!types.includes(type)) violation(type, 'invocationType', rules.enumOf(types));
  const logType = header(h['x-amz-log-type']) ?? 'None';
  if (!(LOG_TYPES as readonly string[]).includes(logType)) violation(logType, 'logType', rules.enumOf(LOG_TYPES));
  const qualifier = typeof req.query.Qualifier === 'string' && req.query.Qualifier !== '' ? req.query.Qualifier : undefined;
  const ir: InvokeRequest = {
    functionName: req.params.FunctionName!,
    payload: req.raw,
    invocationType: type as InvokeRequest['invocationType'],
    logType: logType as 'None' | 'Tail',
    source: 'api',
  };
  if (qualifier !== undefined) ir.qualifier = qualifier;
  const cc = header(h['x-amz-client-context']);
  if (cc) ir.clientContextBase64 = cc;
  const trace = header(h['x-amzn-trace-id']);
  if (trace) ir.traceId = trace;
  const tenant = header(h['x-amz-tenant-id']);
  if (tenant !== undefined) ir.tenantId = tenantIdOf(tenant);
  return ir;
}

/** TenantId's constraints in Lambda's model (Invoke, InvokeWithResponseStream). */
const TENANT_ID_PATTERN = '[a-zA-Z0-9\\._:\\/=+\\-@ ]+';
const TENANT_ID = /^[a-zA-Z0-9._:/=+\-@ ]+$/;
const TENANT_ID_MAX = 256;

function tenantIdOf(v: string): string {
  if (v.length < 1) violation(v, 'tenantId', rules.minLength(1));
  if (v.length > TENANT_ID_MAX) violation(v, 'tenantId', rules.maxLength(TENANT_ID_MAX));
  if (!TENANT_ID.test(v)) violation(v, 'tenantId', rules.pattern(TENANT_ID_PATTERN));
  return v;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Reads an Invoke-shaped request off node's request (the raw routes): the function name from the
 * path (`path`'s first group, the query string its second), the body up to Invoke's limit.
 */
export async function readInvokeWire(req: IncomingMessage, path: RegExp, operation: string): Promise<InvokeWire> {
  const m = path.exec(req.url ?? '')!;
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    throw new StratusError('ValidationException', 400, `1 validation error detected: Value '${m[1]}' at 'functionName' failed to satisfy constraint: Member must be URL-encoded correctly`);
  }
  const body = await readBody(req, SYNC_PAYLOAD_LIMIT);
  if (body === 'too-large') throw new StratusError('RequestEntityTooLargeException', 413, `Request must be smaller than ${SYNC_PAYLOAD_LIMIT} bytes for the ${operation} operation`);
  const qualifier = m[2] ? new URLSearchParams(m[2]).get('Qualifier') ?? undefined : undefined;
  return { headers: req.headers, query: { Qualifier: qualifier }, params: { FunctionName: name }, raw: body };
}
