import { rules, violation } from '../../core/validation.js';
import type { InvokeRequest } from '../../invoke/index.js';

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
  return ir;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
