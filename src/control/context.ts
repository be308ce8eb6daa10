import { randomUUID } from 'node:crypto';
import { functionArn, lambdaTimestamp, parseFunctionRef, resolveQualifier } from '../core/arn.js';
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
    this.code = new CodeStore(deps.blobs, deps.functions, deps.config, deps.urlSecret);
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
   * A FunctionName parameter (name, partial or full ARN) and the Qualifier parameter. With
   * `qualified: 'refuse'` the operation does not take a qualifier and one in the name is refused.
   */
  ref(raw: unknown, qualifierParam?: unknown, qualified: 'allow' | 'refuse' = 'allow'): { name: string; qualifier?: string } {
    const ref = parseFunctionRef(raw as string, this.deps.locale);
    const q = resolveQualifier(ref, typeof qualifierParam === 'string' ? qualifierParam : undefined);
    if (q !== undefined && qualified === 'refuse') {
      throw Errors.invalidParameter(`This operation does not take a qualifier: use the unqualified function name or ARN instead of ${raw as string}.`);
    }
    return q === undefined ? { name: ref.name } : { name: ref.name, qualifier: q };
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

export function revisionMismatch(api: 'GetFunction' | 'GetAlias'): Error {
  return Errors.preconditionFailed(
    `The Revision Id provided does not match the latest Revision Id. Call the ${api} API to retrieve the latest Revision Id`,
  );
}
