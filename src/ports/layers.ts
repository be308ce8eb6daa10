import type { LayerPolicy, LayerVersionRecord } from '../core/model.js';

/**
 * The metadata store for layers (PublishLayerVersion and the rest). Version numbers of a layer
 * are never reused, not even once every version is deleted. Every method is atomic.
 */
export interface LayerStore {
  /** Inserts the layer's next version (numbered here, atomically) and returns it. */
  publish(rec: Omit<LayerVersionRecord, 'version' | 'policy'>): Promise<LayerVersionRecord>;
  getVersion(name: string, version: number): Promise<LayerVersionRecord | undefined>;
  /** Versions of one layer, newest first, below `before` (exclusive) when given. */
  listVersions(name: string, before?: number): Promise<LayerVersionRecord[]>;
  /** Names of layers with at least one version, in order, after `after` (exclusive), at most `limit`. */
  listNames(after: string | undefined, limit: number): Promise<string[]>;
  /** Deletes one version; returns it, or undefined when there was none. */
  deleteVersion(name: string, version: number): Promise<LayerVersionRecord | undefined>;
  /**
   * Replaces a version's policy only if its current revision is `expectedRevision` (null: none
   * yet). False when it changed meanwhile or the version is gone.
   */
  putPolicy(name: string, version: number, policy: LayerPolicy | null, expectedRevision: string | null): Promise<boolean>;
  /** Every code key a layer version holds (for blob garbage collection). */
  codeKeys(): Promise<Set<string>>;
  /** The size of every layer version's archive, summed. */
  totalCodeSize(): Promise<number>;
}
