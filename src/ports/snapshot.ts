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
}
