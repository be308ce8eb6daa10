import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { inspectZip } from '../code/index.js';
import { Errors } from '../core/errors.js';
import type { BlobStore } from '../ports/index.js';
import type { ControlLimits } from './types.js';

export interface StoredCode {
  /** hex sha256: the blob key. */
  codeKey: string;
  /** base64 sha256, as Lambda reports CodeSha256. */
  codeSha256: string;
  codeSize: number;
  /** What the archive unpacks to (bytes of its files). */
  unpackedSize: number;
}

/** How long a GetFunction Code.Location URL stays valid (Lambda's presigned URLs: 10 minutes). */
const LOCATION_TTL_MS = 10 * 60 * 1000;

/**
 * Deployment packages and layer archives: validates a zip completely before anything is stored (a refused zip
 * leaves nothing behind), stores it content-addressed, deletes blobs no version references any
 * more, and signs the download URLs GetFunction hands out.
 */
export class CodeStore {
  private readonly secret: Buffer;
  /** Serialises "put blob, then reference it" against garbage collection on this node. */
  private gcChain: Promise<void> = Promise.resolve();
  private pendingPuts = 0;
  /** Keys to collect once no put is in flight (a put may be about to reference one of them). */
  private readonly candidates = new Set<string>();

  constructor(
    private readonly blobs: BlobStore,
    /** Every key a function version or a layer version still references. */
    private readonly keysInUse: () => Promise<Set<string>>,
    private readonly limits: ControlLimits,
    secret?: Buffer,
  ) {
    this.secret = secret ?? randomBytes(32);
  }

  /**
   * Decodes the wire's ZipFile (base64) and validates it completely, storing nothing (DryRun).
   * A layer's archive (`layer`) must hold something.
   */
  async check(zipBase64: unknown, layer = false): Promise<StoredCode & { zip: Buffer }> {
    if (typeof zipBase64 !== 'string' || zipBase64.length === 0) {
      throw Errors.invalidParameter(`Please provide a source for ${layer ? 'layer content' : 'function code'}: ZipFile must carry the base64 of a .zip file.`);
    }
    const zip = Buffer.from(zipBase64, 'base64');
    const { unpackedSize, entries } = await inspectZip(zip);
    if (layer && entries === 0) throw Errors.invalidParameter('Uploaded file must be a non-empty zip');
    const digest = createHash('sha256').update(zip).digest();
    return { zip, codeKey: digest.toString('hex'), codeSha256: digest.toString('base64'), codeSize: zip.length, unpackedSize };
  }

  /** Validates and stores a zip. Call `done()` once a version references it (or the write failed). */
  async put(zipBase64: unknown, layer = false): Promise<StoredCode & { done(): void }> {
    const { zip, codeKey, codeSha256, codeSize, unpackedSize } = await this.check(zipBase64, layer);
    if (!(await this.blobs.has(codeKey))) {
      const total = await this.blobs.totalSize();
      if (total + zip.length > this.limits.codeStorageLimitBytes) throw Errors.codeStorageExceeded('Code storage limit exceeded.');
    }
    this.pendingPuts++;
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      this.pendingPuts--;
      if (this.pendingPuts === 0 && this.candidates.size > 0) void this.sweep();
    };
    try {
      // A sweep already running finishes first; any later one sees this put and waits for it.
      await this.gcChain;
      const key = await this.blobs.put(zip);
      if (key !== codeKey) throw Errors.service(`blob store returned key ${key} for content ${codeKey}`);
      return { codeKey, codeSha256, codeSize, unpackedSize, done };
    } catch (e) {
      done();
      throw e;
    }
  }

  /**
   * Deletes the blobs among `keys` that no version references (after a delete or a code update).
   * While a put is in flight the keys wait and are swept when the last put is referenced.
   */
  collect(keys: Iterable<string>): Promise<void> {
    for (const k of keys) this.candidates.add(k);
    return this.sweep();
  }

  private sweep(): Promise<void> {
    const run = async () => {
      if (this.pendingPuts > 0 || this.candidates.size === 0) return;
      const keys = [...this.candidates];
      this.candidates.clear();
      const inUse = await this.keysInUse();
      for (const k of keys) if (!inUse.has(k)) await this.blobs.delete(k);
    };
    this.gcChain = this.gcChain.then(run, run).catch(() => undefined);
    return this.gcChain;
  }

  async read(codeKey: string): Promise<Buffer | undefined> {
    return this.blobs.get(codeKey);
  }

  /** What a stored archive unpacks to (it was checked whole when stored). */
  async unpackedSize(codeKey: string): Promise<number> {
    const zip = await this.blobs.get(codeKey);
    if (!zip) throw Errors.service(`Code blob ${codeKey} is missing`);
    return (await inspectZip(zip)).unpackedSize;
  }

  /** Query string that authorises downloading one version's code until it expires (a layer's: `layer:<name>`). */
  signLocation(functionName: string, version: string, now: number): string {
    const expires = now + LOCATION_TTL_MS;
    return `X-Stratus-Expires=${expires}&X-Stratus-Signature=${this.signature(functionName, version, expires)}`;
  }

  /** True when the signature is ours and has not expired. */
  verifyLocation(functionName: string, version: string, expires: unknown, signature: unknown, now: number): boolean {
    const exp = Number(expires);
    if (!Number.isFinite(exp) || exp < now || typeof signature !== 'string') return false;
    const want = Buffer.from(this.signature(functionName, version, exp));
    const got = Buffer.from(signature);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  private signature(functionName: string, version: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${functionName}\0${version}\0${expires}`).digest('hex');
  }
}
