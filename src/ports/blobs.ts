/**
 * Content-addressed blob store (code zips, artifacts). Keys are lower-case hex sha256 of the
 * content. Embedded: files under the data dir. Cluster: NATS object store.
 */
export interface BlobStore {
  /** Stores the bytes and returns their hex sha256 key (idempotent). */
  put(data: Buffer): Promise<string>;
  get(key: string): Promise<Buffer | undefined>;
  has(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** A local file path holding the blob, when the adapter has one (lets unpacking stream from disk). */
  localPath?(key: string): string | undefined;
  /** Sum of stored bytes (for CodeStorageExceeded / account settings). */
  totalSize(): Promise<number>;
}
