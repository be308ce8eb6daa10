import { isUtf8 } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import { functionArn, isNumericVersion, parseFunctionRef, resolveQualifier } from '../core/arn.js';
import { allocationId } from '../core/concurrency.js';
import { Errors } from '../core/errors.js';
import { canonical } from '../core/function-config.js';
import { LATEST, type Locale, type RecursiveLoop, type VersionRecord } from '../core/model.js';
import { countInChain, lineageKey, RECURSION_LIMIT, RECURSION_SOURCES } from '../core/recursion.js';
import { pickAliasVersion } from '../core/routing.js';
import type { ControlSnapshot, ExecutionService, ExecutionTarget } from '../ports/index.js';
import { hasQualifier } from './function-configs.js';
import type { LocalLeases } from './leases.js';
import { randomString } from './random.js';
import { BandwidthCappedSink } from './stream-bandwidth.js';
import type { AsyncInvokeQueue, InvokeRequest, InvokeResult, Invoker } from './types.js';

export const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024; // 6291456
export const ASYNC_PAYLOAD_LIMIT = 1024 * 1024; // 1048576

export interface InvokerDeps {
  locale: Locale;
  snapshot: ControlSnapshot;
  execution: ExecutionService;
  leases: LocalLeases;
  random?: () => number;
}

export interface Resolved {
  version: VersionRecord;
  /** Qualifier used to resolve (alias name, version, or $LATEST). */
  qualifier: string;
  /** ARN the caller invoked: unqualified when no qualifier was given. */
  invokedArn: string;
  reserved: number | null;
  /** The function's recursion config (Get/PutFunctionRecursionConfig). */
  recursiveLoop: RecursiveLoop;
}

/**
 * The one invoke pipeline: resolve -> lease -> assign/execute (ExecutionService) -> release.
 * Every trigger hands its work here.
 */
export class PipelineInvoker implements Invoker {
  private asyncQueue: AsyncInvokeQueue | undefined;
  private readonly targets = new WeakMap<VersionRecord, ExecutionTarget>();
  /** Each function's key in a chain of requests (lineageKey), by name. */
  private readonly lineageKeys = new Map<string, string>();
  private readonly random: () => number;

  constructor(private readonly deps: InvokerDeps) {
    this.random = deps.random ?? Math.random;
  }

  setAsyncQueue(queue: AsyncInvokeQueue): void {
    this.asyncQueue = queue;
  }

  /** Stage 1: name / ARN / qualifier -> a concrete version (alias weights applied). */
  async resolve(functionName: string, qualifierParam: string | undefined): Promise<Resolved> {
    const { locale, snapshot } = this.deps;
    const ref = parseFunctionRef(functionName, locale, 'NamespacedFunctionName');
    const qualifier = resolveQualifier(ref, qualifierParam);
    let fs = snapshot.get(ref.name);
    if (!fs || !hasQualifier(fs, qualifier)) fs = await snapshot.lookup(ref.name, (f) => hasQualifier(f, qualifier));
    const notFound = () => Errors.resourceNotFound(`Function not found: ${functionArn(locale, ref.name, qualifier)}`);
    if (!fs) throw notFound();
    let version: VersionRecord | undefined;
    if (qualifier === undefined || qualifier === LATEST) {
      version = fs.versions.get(LATEST);
    } else if (isNumericVersion(qualifier)) {
      version = fs.versions.get(qualifier);
    } else {
      const alias = fs.aliases.get(qualifier);
      if (alias) {
        const picked = pickAliasVersion(alias.functionVersion, alias.additionalVersionWeights, this.random());
        version = fs.versions.get(picked);
      }
    }
    if (!version) throw notFound();
    return {
      version,
      qualifier: qualifier ?? LATEST,
      invokedArn: functionArn(locale, ref.name, qualifier),
      reserved: fs.fn.reservedConcurrency,
      recursiveLoop: fs.fn.recursiveLoop,
    };
  }

  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    const resolved = await this.resolve(req.functionName, req.qualifier);
    const payload = req.payload.length === 0 ? EMPTY_EVENT : req.payload;
    if (req.source === 'api') validateJson(payload);
    const { version } = resolved;
    checkTenant(version, req.tenantId);
    req.onResolved?.(version.version);

    if (req.invocationType === 'DryRun') {
      // "Validate parameter values" (API_Invoke): the request is checked as a synchronous one is.
      if (req.clientContextBase64) decodeClientContext(req.clientContextBase64);
      return { statusCode: 204, requestId: req.requestId ?? randomUUID(), payload: Buffer.alloc(0), executedVersion: version.version };
    }
    if (req.invocationType === 'Event') {
      if (payload.length > ASYNC_PAYLOAD_LIMIT) {
        throw Errors.requestTooLarge(`${payload.length} byte payload is too large for the Event invocation type (limit ${ASYNC_PAYLOAD_LIMIT} bytes)`);
      }
      if (!this.asyncQueue) {
        throw Errors.notImplemented('Asynchronous invocation (InvocationType Event) is not supported by this Stratus build yet.');
      }
      // Lambda passes the ClientContext to the function for synchronous invocations only: the
      // event is queued without it. A malformed one is refused here as on the synchronous path.
      const { clientContextBase64, ...queued } = req;
      if (clientContextBase64) decodeClientContext(clientContextBase64);
      const requestId = req.requestId ?? randomUUID();
      await this.asyncQueue.enqueue(
        { ...queued, payload, requestId },
        { functionName: version.functionName, qualifier: resolved.qualifier },
      );
      return { statusCode: 202, requestId, payload: Buffer.alloc(0), executedVersion: version.version };
    }
    if (payload.length > SYNC_PAYLOAD_LIMIT) {
      throw Errors.requestTooLarge(`Request must be smaller than ${SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction operation`);
    }
    return this.execute(resolved, req, payload);
  }

  /** Stages 2-5 for an already resolved version (the async worker enters here too). */
  async execute(resolved: Resolved, req: InvokeRequest, payload: Buffer): Promise<InvokeResult> {
    const { version } = resolved;
    const traceId = this.traceOf(resolved, req);
    const lease = this.deps.leases.acquire(version.functionName, resolved.reserved, provisionable(resolved));
    const requestId = req.requestId ?? randomUUID();
    try {
      const outcome = await this.deps.execution.execute(this.targetOf(version), {
        ...(lease.allocation !== null ? { allocation: lease.allocation } : {}),
        requestId,
        payload,
        invokedFunctionArn: resolved.invokedArn,
        traceId,
        clientContext: req.clientContextBase64 ? decodeClientContext(req.clientContextBase64) : undefined,
        cognitoIdentity: req.cognitoIdentity,
        tenantId: req.tenantId,
        wantLogTail: req.logType === 'Tail',
        // A streamed response goes within Lambda's bandwidth (the first 6 MB free, then 2 MB/s).
        stream: req.stream && new BandwidthCappedSink(req.stream),
      });
      const result: InvokeResult = {
        statusCode: 200,
        requestId,
        payload: outcome.payload,
        executedVersion: version.version,
        durationMs: outcome.durationMs,
      };
      if (outcome.status === 'error') {
        result.functionError = 'Unhandled';
        result.errorType = outcome.errorType;
      }
      if (outcome.streamed) result.streamed = true;
      if (req.logType === 'Tail' && outcome.logTail !== undefined) {
        result.logResult = Buffer.from(outcome.logTail).toString('base64');
      }
      return result;
    } finally {
      lease.release();
    }
  }

  /**
   * The trace the invocation runs with (traceFor); one of a chain Lambda follows (RECURSION_SOURCES)
   * counts in it, and is stopped past RECURSION_LIMIT unless its function allows recursive loops.
   */
  private traceOf(resolved: Resolved, req: InvokeRequest): string {
    const { version } = resolved;
    const trace = traceFor(version.config.tracingMode, req.traceId);
    if (!RECURSION_SOURCES.has(req.source)) return trace;
    const chain = countInChain(trace, this.lineageKeyOf(version.functionName));
    if (chain.count > RECURSION_LIMIT && resolved.recursiveLoop === 'Terminate') {
      throw Errors.recursiveInvocation(
        `Lambda has detected your function being invoked in a recursive loop with other AWS resources and stopped your function's invocation (${chain.count - 1} invocations of it in this chain of requests; its recursion config is Terminate).`,
      );
    }
    return chain.trace;
  }

  chainCount(functionName: string, trace: string): number {
    return countInChain(trace, this.lineageKeyOf(parseFunctionRef(functionName, this.deps.locale, 'NamespacedFunctionName').name)).count;
  }

  private lineageKeyOf(name: string): string {
    let key = this.lineageKeys.get(name);
    if (key === undefined) this.lineageKeys.set(name, (key = lineageKey(functionArn(this.deps.locale, name))));
    return key;
  }

  targetOf(version: VersionRecord): ExecutionTarget {
    let t = this.targets.get(version);
    if (!t) {
      t = executionTarget(this.deps.locale, version);
      this.targets.set(version, t);
    }
    return t;
  }
}

/**
 * The provisioned concurrency allocation an invocation may run on: that of the qualifier it
 * names, on the version it resolved to. Provisioned concurrency belongs to a version or an
 * alias; neither an unqualified invocation nor one naming the version of an alias's has any.
 */
function provisionable(r: Resolved): string | undefined {
  return r.qualifier === LATEST ? undefined : allocationId(r.version.functionName, r.qualifier, r.version.version);
}

/** What the execution service runs for a version: its code, configuration and log group. */
export function executionTarget(locale: Locale, version: VersionRecord): ExecutionTarget {
  return {
    functionName: version.functionName,
    version: version.version,
    functionArn: functionArn(locale, version.functionName),
    config: version.config,
    codeKey: version.codeKey,
    revisionId: deploymentId(version),
    logGroupName: version.config.loggingConfig?.logGroup || `/aws/lambda/${version.functionName}`,
  };
}

/**
 * What an environment is reused for: the version's code and configuration as last written. Not
 * its RevisionId, which a change of its resource policy also renews (AddPermission): that leaves
 * what runs as it was, and warm (and provisioned) environments with it.
 */
function deploymentId(v: VersionRecord): string {
  return createHash('sha256').update(`${v.codeKey}\0${v.lastModified}\0${canonical(v.config)}`).digest('base64url');
}

const EMPTY_EVENT = Buffer.from('{}');

/**
 * A function with tenant isolation is invoked for a tenant, and only such a function is:
 * InvalidParameterValueException otherwise, "when invoking a tenant-isolated function without a
 * tenant ID, or invoking a non-tenant-isolated function with a tenant ID" (Lambda's tenant
 * isolation troubleshooting page; its exact messages are not documented).
 */
function checkTenant(version: VersionRecord, tenantId: string | undefined): void {
  const isolated = version.config.tenancy !== undefined;
  if (isolated && tenantId === undefined) {
    throw Errors.invalidParameter(
      `Tenant ID configuration not specified: function ${version.functionName} has tenant isolation enabled (TenantIsolationMode ${version.config.tenancy}); invoke it with a tenant ID (X-Amz-Tenant-Id).`,
    );
  }
  if (!isolated && tenantId !== undefined) {
    throw Errors.invalidParameter(
      `A tenant ID was passed to function ${version.functionName}, which does not have tenant isolation enabled: remove the tenant ID (X-Amz-Tenant-Id).`,
    );
  }
}

function validateJson(payload: Buffer): void {
  const notUtf8 = isUtf8(payload) ? undefined : utf8Error(payload);
  if (notUtf8 !== undefined) {
    throw Errors.invalidRequestContent(`Could not parse request body into json: Could not parse payload into json: ${notUtf8}`);
  }
  try {
    JSON.parse(payload.toString('utf8'));
  } catch (e) {
    // Lambda's words around its parser's (Jackson's; the detail here is V8's): "Could not parse
    // request body into json: Could not parse payload into json: Unexpected character ...".
    throw Errors.invalidRequestContent(`Could not parse request body into json: Could not parse payload into json: ${(e as Error).message}`);
  }
}

/**
 * Jackson's words (Lambda's parser) for the first byte that breaks UTF-8: "Invalid UTF-8 start
 * byte 0xff", "Invalid UTF-8 middle byte 0x28". Stratus reads UTF-8 strictly (no overlong forms,
 * no surrogates, nothing past U+10FFFF), which Jackson lets through: the function would get U+FFFD
 * for them. Undefined when the payload only ends inside a character: then it is not JSON either
 * (JSON ends in ASCII), and the parser says why.
 */
function utf8Error(b: Buffer): string | undefined {
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    // Continuation bytes after `c`, and the range of the first (Unicode's table 3-7).
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return `Invalid UTF-8 start byte 0x${c.toString(16)}`;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined) return undefined;
      if (d < lo || d > hi) return `Invalid UTF-8 middle byte 0x${d.toString(16)}`;
      lo = 0x80;
      hi = 0xbf;
    }
    i += n + 1;
  }
  return undefined;
}

/** Invoke's ClientContext: "Up to 3,583 bytes of base64-encoded data" (API_Invoke). */
const CLIENT_CONTEXT_LIMIT = 3583;

function decodeClientContext(b64: string): string {
  // A header's value: one byte a character.
  if (b64.length > CLIENT_CONTEXT_LIMIT) {
    throw Errors.invalidRequestContent(`Client context must be at most ${CLIENT_CONTEXT_LIMIT} bytes of base64-encoded data.`);
  }
  // Node's decoder skips what is not base64 ('e3$0=' reads as 'e30='): checked strictly first.
  if (!isBase64(b64)) throw Errors.invalidRequestContent(CLIENT_CONTEXT_INVALID);
  const text = Buffer.from(b64, 'base64').toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  // An object, as the message says: the runtimes read its client, custom and env members.
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw Errors.invalidRequestContent(CLIENT_CONTEXT_INVALID);
  }
  // It goes into a header of the runtime's (Lambda-Runtime-Client-Context): line breaks, which valid
  // JSON has only between its tokens, become spaces there.
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text;
}

const CLIENT_CONTEXT_INVALID = 'Client context must be a valid Base64-encoded JSON object.';

/**
 * Base64 as RFC 4648 writes it (section 4's alphabet: no URL-safe characters, no whitespace), with
 * its padding or without it: groups of four characters, the last one of two or three characters
 * when it is not padded to four with '='. Unpadded text is what Stratus always took and what
 * decoders such as Java's basic one accept; nothing found says Lambda refuses it.
 */
function isBase64(s: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/.test(s);
}

/** X-Ray style trace header: Root=1-<8 hex epoch secs>-<24 hex>;Parent=<16 hex>;Sampled=0|1 */
export function newTraceId(sampled = false): string {
  const r = randomString(20, 'hex');
  const t = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0');
  return `Root=1-${t}-${r.slice(0, 24)};Parent=${r.slice(24, 40)};Sampled=${sampled ? 1 : 0}`;
}

/**
 * The trace header an invocation runs with: in the caller's trace (X-Amzn-Trace-Id's Root) when
 * it names a valid one, else in a new one; its Parent is the invocation's own (Lambda's function
 * segment: a callee never has its caller's), and the caller's other fields (Lineage) go on. With
 * active tracing a request that carries no sampling decision is sampled (Lambda's default rule
 * samples the first request each second and 5% of the rest; Stratus records no traces, so
 * sampling each one only decides what the function and its REPORT line are told).
 */
export function traceFor(mode: 'Active' | 'PassThrough', header: string | undefined): string {
  const active = mode === 'Active';
  if (!header) return newTraceId(active);
  const fields = new Map<string, string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const root = fields.get('Root');
  if (root === undefined || !TRACE_ROOT.test(root)) return newTraceId(active);
  const given = fields.get('Sampled');
  const sampled = given === '1' || given === '0' ? given : active ? '1' : '0';
  let out = `Root=${root};Parent=${randomString(8, 'hex')};Sampled=${sampled}`;
  // The caller's other fields, as long as they are fields: they go into a header of the runtime's
  // (Lambda-Runtime-Trace-Id), and a queue's message may carry anything in its AWSTraceHeader.
  let extra = 0;
  for (const [k, v] of fields) {
    if (TRACE_OWN_FIELDS.has(k) || !TRACE_FIELD_NAME.test(k) || !TRACE_FIELD_VALUE.test(v)) continue;
    extra += k.length + v.length + 2;
    if (extra > TRACE_EXTRA_MAX) break;
    out += `;${k}=${v}`;
  }
  return out;
}

const TRACE_FIELD_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Printable ASCII, no separator. */
const TRACE_FIELD_VALUE = /^[\x21-\x3a\x3c-\x7e]{0,256}$/;
/** The caller's other fields, in characters at most. */
const TRACE_EXTRA_MAX = 512;

/** An X-Ray trace id: version 1, the epoch seconds of its start in 8 hex digits, 24 hex digits. */
const TRACE_ROOT = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;
/** The fields an invocation's trace header sets itself (Self: a load balancer's, of its own hop). */
const TRACE_OWN_FIELDS = new Set(['Root', 'Parent', 'Sampled', 'Self']);
