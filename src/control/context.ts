import { randomUUID } from 'node:crypto';
import { functionArn, lambdaTimestamp, parseFunctionRef, resolveQualifier, type FunctionNameShape } from '../core/arn.js';
import { Errors } from '../core/errors.js';
import { LATEST, type FunctionRecord, type VersionRecord } from '../core/model.js';
import { CodeStore } from './code.js';
import { KeyedLock } from './lock.js';
import type { ControlDeps } from './types.js';

/** What every control use case shares: the deps, the per-function lock, code storage, helpers. */
export class ControlContext {
  readonly lock = new KeyedLock();
  readonly code: CodeStore;

  constructor(readonly deps: ControlDeps) {
    this.code = new CodeStore(deps.blobs, async () => {
      const [fns, layers] = await Promise.all([deps.functions.codeKeysInUse(), deps.layers.codeKeys()]);
      for (const k of layers) fns.add(k);
      return fns;
    }, deps.config, deps.urlSecret);
  }

  get store() {
    return this.deps.functions;
  }

  now(): number {
    return this.deps.clock.now();
  }

  timestamp(): string {
    return lambdaTimestamp(this.now());
  }

  newRevision(): string {
    return randomUUID();
  }

  arn(name: string, qualifier?: string): string {
    return functionArn(this.deps.locale, name, qualifier);
  }

  /**
   * A FunctionName parameter (name, partial or full ARN) and the Qualifier parameter.
   * - 'allow': the qualifier (from the name or the parameter) is returned;
   * - 'ignore': operations on the function itself (UpdateFunctionConfiguration, PublishVersion,
   *   ListVersionsByFunction, the alias operations...) accept a qualified name, as the model's
   *   pattern does, and act on the function;
   * - 'latest-only': changes to the function's code or configuration (UpdateFunctionCode,
   *   UpdateFunctionConfiguration, PublishVersion), which act on $LATEST: a name qualified with
   *   $LATEST is accepted, any other qualifier refused as Lambda refuses it;
   * - 'function-only': reserved concurrency, which Lambda refuses on a version or alias;
   * - 'refuse': CreateFunction (a new function's name cannot carry a qualifier).
   * `shape` is the operation's FunctionName in the model (core/arn.ts).
   */
  ref(
    raw: unknown,
    qualifierParam?: unknown,
    mode: 'allow' | 'ignore' | 'latest-only' | 'function-only' | 'refuse' = 'allow',
    shape: FunctionNameShape = 'FunctionName',
  ): { name: string; qualifier?: string } {
    const ref = parseFunctionRef(raw as string, this.deps.locale, shape);
    const q = resolveQualifier(ref, typeof qualifierParam === 'string' ? qualifierParam : undefined);
    if (q === undefined || mode === 'ignore') return { name: ref.name };
    if (mode === 'latest-only') {
      if (q === LATEST) return { name: ref.name };
      throw Errors.invalidParameter('Current operation does not support versions other than $LATEST. Please set the version to $LATEST or do not set a version in your request.');
    }
    if (mode === 'function-only') {
      throw Errors.invalidParameter(
        'This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.',
      );
    }
    if (mode === 'refuse') {
      throw Errors.invalidParameter(`This operation does not take a qualifier: use the unqualified function name or ARN instead of ${raw as string}.`);
    }
    return { name: ref.name, qualifier: q };
  }

  notFound(name: string, qualifier?: string): Error {
    return Errors.resourceNotFound(`Function not found: ${this.arn(name, qualifier)}`);
  }

  async requireFunction(name: string): Promise<FunctionRecord> {
    const fn = await this.store.getFunction(name);
    if (!fn) throw this.notFound(name);
    return fn;
  }

  async requireLatest(name: string): Promise<VersionRecord> {
    const v = await this.store.getVersion(name, LATEST);
    if (!v) throw this.notFound(name);
    return v;
  }

  /** Announces a change: this node's snapshot applies it before the call returns. */
  changed(name: string): Promise<void> {
    return this.deps.changes.publish({ kind: 'function', name });
  }

  deleted(name: string): Promise<void> {
    return this.deps.changes.publish({ kind: 'function-deleted', name });
  }
}

/** Lambda's PreconditionFailedException (one wording for functions and aliases alike). */
export function revisionMismatch(): Error {
  return Errors.preconditionFailed(
    'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id',
  );
}

/** The RevisionId precondition of a write: a given RevisionId must be the current one. */
export function checkRevision(given: unknown, current: string): void {
  if (typeof given === 'string' && given !== current) throw revisionMismatch();
}
