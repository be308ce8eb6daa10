import type { FunctionSnapshot } from '../core/model.js';

/**
 * The data plane's in-memory view of control state, refreshed by change events. The hot
 * path reads this, never the database.
 */
export interface ControlSnapshot {
  get(functionName: string): FunctionSnapshot | undefined;
  names(): IterableIterator<string>;
  /** Resolves when every change published before this call has been applied. */
  settle(): Promise<void>;
  /**
   * The function, for a caller about to answer "not found": when it is missing (or `wants` says
   * what the caller needs of it is, e.g. an alias), once the changes in flight are applied, and, in
   * a cluster, once it is read again from the store (another node's change this one has not heard
   * of yet: a function created there a moment ago, an alias, a version).
   */
  lookup(functionName: string, wants?: (f: FunctionSnapshot) => boolean): Promise<FunctionSnapshot | undefined>;
}
