import { randomBytes } from 'node:crypto';

/**
 * Randomness for request and trace ids, drawn in blocks: one crypto call per few hundred ids
 * instead of one per invocation (it showed as a few percent of server CPU, and OpenSSL checks
 * the pid on every call).
 */
const POOL_SIZE = 8192;
let pool = Buffer.alloc(0);
let poolAt = POOL_SIZE;

/** `bytes` random bytes rendered in `encoding`, from the pool. */
export function randomString(bytes: number, encoding: 'hex' | 'base64'): string {
  if (poolAt + bytes > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolAt = 0;
  }
  const s = pool.toString(encoding, poolAt, poolAt + bytes);
  poolAt += bytes;
  return s;
}
