import type { ProvisionedTotal } from '../core/concurrency.js';
import type { AliasRecord, FunctionPolicy, FunctionRecord, VersionRecord } from '../core/model.js';

/**
 * The metadata store for functions, versions and aliases. One implementation (adapters/sql)
 * serves SQLite and Postgres with the same queries. Every method is atomic; writes that must
 * check a precondition take the expected revision and fail with `false`/undefined when it
 * does not match, so the control plane can answer PreconditionFailed without races.
 */
export interface FunctionStore {
  /** Creates the function with its $LATEST version. Returns false when the name exists. */
  createFunction(fn: FunctionRecord, latest: VersionRecord): Promise<boolean>;
  getFunction(name: string): Promise<FunctionRecord | undefined>;
  /** Functions ordered by name, starting after `after` (exclusive), at most `limit`. */
  listFunctions(after: string | undefined, limit: number): Promise<FunctionRecord[]>;
  countFunctions(): Promise<number>;
  /** Updates function-level fields (tags, reserved concurrency). */
  updateFunction(fn: FunctionRecord): Promise<void>;
  /** Deletes the function with every version and alias. Returns false when it did not exist. */
  deleteFunction(name: string): Promise<boolean>;

  getVersion(name: string, version: string): Promise<VersionRecord | undefined>;
  /** Versions of one function: $LATEST first, then numeric ascending. */
  listVersions(name: string): Promise<VersionRecord[]>;
  /** $LATEST of many functions in one query (ListFunctions). */
  listLatest(names: string[]): Promise<VersionRecord[]>;
  /**
   * Replaces a version record (only $LATEST is ever replaced). When `expectedRevision` is
   * given and differs from the stored one, nothing is written and false is returned.
   */
  putVersion(v: VersionRecord, expectedRevision?: string): Promise<boolean>;
  /**
   * Publishes: inserts version `v` (numbered fn.lastVersion + 1 by the caller) and bumps the
   * function's lastVersion, atomically, only if lastVersion still equals `expectedLastVersion`.
   */
  publishVersion(v: VersionRecord, expectedLastVersion: number): Promise<boolean>;
  deleteVersion(name: string, version: string): Promise<boolean>;

  getAlias(name: string, alias: string): Promise<AliasRecord | undefined>;
  listAliases(name: string): Promise<AliasRecord[]>;
  /** Inserts; false when the alias exists. */
  createAlias(a: AliasRecord): Promise<boolean>;
  /** Replaces; false when missing or when expectedRevision does not match. */
  updateAlias(a: AliasRecord, expectedRevision?: string): Promise<boolean>;
  deleteAlias(name: string, alias: string): Promise<boolean>;
  /** The resource policy of a function ('' qualifier) or of one of its versions or aliases. */
  getPolicy(name: string, qualifier: string): Promise<FunctionPolicy | undefined>;
  /**
   * Replaces (null: deletes) that policy and renews its owner's RevisionId to `revisionId` (a
   * policy's revision is its owner's: $LATEST for '', else the version or alias), if the owner's
   * revision is still `expectedRevision`. False when the owner changed meanwhile, or is gone.
   */
  putPolicy(name: string, qualifier: string, policy: FunctionPolicy | null, expectedRevision: string, revisionId: string): Promise<boolean>;

  /** Every code key still referenced by some version, its own or one of its layers' (for blob garbage collection). */
  codeKeysInUse(): Promise<Set<string>>;
  /** The size of every version's deployment package, summed (GetAccountSettings' TotalCodeSize counts each). */
  totalCodeSize(): Promise<number>;
  /** Each function's provisioned concurrency (the sum of its configs) and whether it has a reservation, for those that have some. */
  provisionedTotals(): Promise<Map<string, ProvisionedTotal>>;
  /** Sum of reserved concurrency over all functions, excluding `exceptName`. */
  totalReserved(exceptName?: string): Promise<number>;
  /** Everything, for building the data plane's snapshot at startup. */
  loadAll(): Promise<{ functions: FunctionRecord[]; versions: VersionRecord[]; aliases: AliasRecord[] }>;
  /** The same for one function (refresh after a change event). */
  loadFunction(name: string): Promise<{ fn: FunctionRecord; versions: VersionRecord[]; aliases: AliasRecord[] } | undefined>;
}
