import type { FunctionConfig } from '../core/model.js';

/**
 * What the invoke pipeline asks of execution environments (environments/ implements it):
 * "run this invocation of this concrete function version". Assignment to a warm, prewarmed or
 * new environment, the Runtime API exchange, deadlines, limits, logs and REPORT lines all
 * happen behind this port.
 */
export interface ExecutionTarget {
  functionName: string;
  /** The concrete version that runs: '$LATEST' or a number. */
  version: string;
  /** Unqualified function ARN. */
  functionArn: string;
  config: FunctionConfig;
  /** Hex sha256 of the code zip (blob store key). */
  codeKey: string;
  /**
   * Identity of code + configuration (not the version's RevisionId, which a resource policy
   * change also renews). Environments are reused only for the same identity; a change sends new
   * invocations to new environments while in-flight ones finish.
   */
  revisionId: string;
  logGroupName: string;
}

/** Lambda's initialization types: a cold start, or an environment of provisioned concurrency. */
export type InitializationType = 'on-demand' | 'provisioned-concurrency';

/** How far the environments of one provisioned concurrency allocation are (ExecutionService.provision). */
export interface ProvisionProgress {
  /** Environments initialized and kept for it. */
  allocated: number;
  /** Set once an environment's init failed: the allocation stops there (Lambda's FAILED status). */
  failure?: string;
}

export interface Invocation {
  requestId: string;
  /**
   * The provisioned concurrency allocation (provision's id) admission put it on: it runs on one of
   * that allocation's environments when one is free. Without it, on an on-demand one: another
   * version's or alias's provisioned environments are not for it.
   */
  allocation?: string;
  payload: Buffer;
  /** The ARN the caller used (with qualifier if any): Lambda-Runtime-Invoked-Function-Arn. */
  invokedFunctionArn: string;
  traceId: string;
  /** Client context JSON (already decoded from base64), if any. */
  clientContext?: string;
  cognitoIdentity?: string;
  /**
   * The tenant of a function with tenant isolation: it runs on an environment that serves that
   * tenant only (Lambda-Runtime-Aws-Tenant-Id tells the runtime). Absent: any of the version's.
   */
  tenantId?: string;
  /** Collect the invocation's log output for X-Amz-Log-Result. */
  wantLogTail: boolean;
  /**
   * Optional streaming sink (function URLs with RESPONSE_STREAM). When given and the runtime
   * streams its response, chunks are written here as they arrive.
   */
  stream?: ResponseStreamSink;
}

export interface ResponseStreamSink {
  /** Called once with the content type the runtime declared (and the prelude for URLs, if any). */
  start(contentType: string | undefined): void;
  /**
   * Sends a chunk to the client; false when the client is behind (the chunk is queued, no more
   * should come until `drained`). The runtime's body is paused meanwhile, so a slow client slows
   * the function's writes rather than filling the server's memory.
   */
  write(chunk: Buffer): boolean;
  /** Calls `f` once, when the client has taken in what was queued (at once if it has, or is gone). */
  drained(f: () => void): void;
  end(error?: { errorType: string; errorMessage: string }): void;
}

export interface ExecutionOutcome {
  /** 'ok' when the function returned; 'error' when it failed (function error or runtime failure). */
  status: 'ok' | 'error';
  /** The response payload, or the error JSON ({errorMessage, errorType, ...}). */
  payload: Buffer;
  /** Lambda's errorType when status is 'error' (Runtime.ExitError, Sandbox.Timedout, user type...). */
  errorType?: string;
  /** True when the response was streamed into Invocation.stream (payload then empty). */
  streamed?: boolean;
  /** Last 4 KB of this invocation's log, when wantLogTail. */
  logTail?: string;
  durationMs: number;
  billedDurationMs: number;
  maxMemoryUsedMB: number;
  initDurationMs?: number;
  coldStart: boolean;
}

export interface ExecutionService {
  execute(target: ExecutionTarget, invocation: Invocation): Promise<ExecutionOutcome>;
  /**
   * Keeps `count` environments of `target` initialized ahead of its invocations (provisioned
   * concurrency: AWS_LAMBDA_INITIALIZATION_TYPE provisioned-concurrency, never reaped while
   * idle, replaced when one dies), under `id`; the invocations admitted on it (Invocation.allocation)
   * find them warm, before any on-demand one.
   * Calling again with the same id changes the count or the target (the old target's
   * environments are let go); count 0 ends the allocation. `progress` hears each change.
   */
  provision(id: string, target: ExecutionTarget, count: number, progress: (p: ProvisionProgress) => void): void;
  /**
   * Ends every environment of a function (on delete): idle ones at once, those serving an
   * invocation once it finishes (it gets its own result); no new invocation is given them.
   */
  retireFunction(functionName: string): Promise<void>;
  /** Startup diagnostics: which sandbox driver runs and what it cannot enforce on this host. */
  describe(): { driver: string; isolation: string[]; warnings: string[] };
  /**
   * True when the local TCP connection from `client` to our `server` end (address and port, as
   * the accepted socket reports them) belongs to a process of an execution environment (known by
   * its sandbox uid), or may (its owner cannot be told: refused, not let through). False when the
   * driver does not give environments their own uids (then there is no telling them apart from
   * other local callers). Found off the event loop (/proc/net/tcp may be large).
   */
  fromEnvironment(client: TcpEndpoint, server: TcpEndpoint): Promise<boolean>;
  stop(): Promise<void>;
}

/** One end of a TCP connection, as node's sockets report it (remoteAddress/remotePort, ...). */
export interface TcpEndpoint {
  address: string;
  port: number;
}
