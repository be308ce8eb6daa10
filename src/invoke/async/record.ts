/**
 * Lambda's invocation record, as sent to OnSuccess / OnFailure destinations:
 * { version, timestamp, requestContext {requestId, functionArn, condition, approximateInvokeCount},
 *   requestPayload, responseContext {statusCode, executedVersion, functionError?}, responsePayload }
 */
export type RecordCondition = 'Success' | 'RetriesExhausted' | 'EventAgeExceeded';

export interface InvocationRecordInput {
  now: number;
  requestId: string;
  /** The invoked function ARN, qualified ($LATEST for unqualified invocations, else the alias/version). */
  functionArn: string;
  condition: RecordCondition;
  approximateInvokeCount: number;
  requestPayload: Buffer;
  response?: {
    statusCode: number;
    executedVersion: string;
    functionError?: string;
    payload?: Buffer;
  };
}

export function invocationRecord(r: InvocationRecordInput): Record<string, unknown> {
  const responseContext: Record<string, unknown> = {
    statusCode: r.response?.statusCode ?? 200,
    executedVersion: r.response?.executedVersion ?? '$LATEST',
  };
  if (r.response?.functionError) responseContext.functionError = r.response.functionError;
  return {
    version: '1.0',
    timestamp: new Date(r.now).toISOString(),
    requestContext: {
      requestId: r.requestId,
      functionArn: r.functionArn,
      condition: r.condition,
      approximateInvokeCount: r.approximateInvokeCount,
    },
    requestPayload: jsonOrString(r.requestPayload),
    responseContext,
    responsePayload: r.response?.payload && r.response.payload.length > 0 ? jsonOrString(r.response.payload) : null,
  };
}

/** JSON payloads are embedded as JSON; anything else as a string. */
export function jsonOrString(b: Buffer): unknown {
  const text = b.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The error message a DLQ message carries (first 1 KB), from a function error payload or an API error. */
export function errorMessageOf(payload: Buffer | undefined, fallback: string): string {
  let msg = fallback;
  if (payload && payload.length) {
    const parsed = jsonOrString(payload);
    if (parsed && typeof parsed === 'object' && typeof (parsed as { errorMessage?: unknown }).errorMessage === 'string') {
      msg = (parsed as { errorMessage: string }).errorMessage;
    } else if (typeof parsed === 'string') {
      msg = parsed;
    }
  }
  return Buffer.byteLength(msg) > 1024 ? Buffer.from(msg).subarray(0, 1024).toString('utf8') : msg;
}
