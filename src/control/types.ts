import type { Locale } from '../core/model.js';
import type { BlobStore, ChangeFeed, Clock, FunctionStore, LayerStore } from '../ports/index.js';

/** The limits the control plane enforces (a subset of the server's configuration). */
export interface ControlLimits {
  /** Account-wide concurrency limit. */
  accountConcurrency: number;
  /** Concurrency that PutFunctionConcurrency must leave unreserved. */
  unreservedConcurrencyMin: number;
  /** Total stored code (zips) beyond which CodeStorageExceededException is returned. */
  codeStorageLimitBytes: number;
}

export interface ControlDeps {
  functions: FunctionStore;
  layers: LayerStore;
  blobs: BlobStore;
  changes: ChangeFeed;
  locale: Locale;
  clock: Clock;
  config: ControlLimits;
  /** Secret for signing code download URLs (GetFunction's Code.Location); random when absent. */
  urlSecret?: Buffer;
}

/** Wire-shaped input of an operation (the API layer has parsed path, query and body into it). */
export type Input = Record<string, unknown>;
