import type { ResponseStreamSink } from '../ports/execution.js';

/**
 * The one request every source of work becomes: Invoke API, gateway, function URLs, pollers,
 * schedules, destinations, async retries.
 */
export interface InvokeRequest {
  /** Name, partial ARN or full ARN; may carry a qualifier. */
  functionName: string;
  qualifier?: string;
  payload: Buffer;
  invocationType: 'RequestResponse' | 'Event' | 'DryRun';
  logType?: 'None' | 'Tail';
  /** Base64 client context as sent in X-Amz-Client-Context. */
  clientContextBase64?: string;
  cognitoIdentity?: string;
  /** Keep a request id (async retries keep the event's id). */
  requestId?: string;
  traceId?: string;
  /**
   * X-Amz-Tenant-Id: the tenant of a function with tenant isolation (TenancyConfig PER_TENANT),
   * whose environments serve that tenant only. Required for such a function, refused for others.
   */
  tenantId?: string;
  /** Who asked: 'api', 'gateway', 'url', 'async', 'sqs', 'schedule', 'events', ... (for metrics). */
  source: string;
  stream?: ResponseStreamSink;
  /** Told the version that will run as soon as it is known (a streamed answer's headers carry it). */
  onResolved?: (executedVersion: string) => void;
}

export interface InvokeResult {
  /** 200 for RequestResponse, 202 for Event, 204 for DryRun. */
  statusCode: number;
  requestId: string;
  payload: Buffer;
  /** 'Unhandled' when the function or its runtime failed. */
  functionError?: 'Unhandled' | 'Handled';
  errorType?: string;
  executedVersion: string;
  /** Base64 of the last 4 KB of the log, when logType is Tail. */
  logResult?: string;
  streamed?: boolean;
  durationMs?: number;
}

export interface Invoker {
  /** Runs the pipeline. Throws StratusError for resolve failures, throttles, bad payloads. */
  invoke(req: InvokeRequest): Promise<InvokeResult>;
  /**
   * How many invocations of the function (a name, unqualified) the chain of requests `trace`
   * carries would count with one more (recursive loop detection: RECURSION_LIMIT).
   */
  chainCount?(functionName: string, trace: string): number;
}

/** Async engine hook: where Event invocations go once durably queued (issue: async invocation). */
export interface AsyncInvokeQueue {
  /** Persists the event and resolves only once it is durable. */
  enqueue(req: InvokeRequest & { requestId: string }, resolved: { functionName: string; qualifier: string }): Promise<void>;
}
