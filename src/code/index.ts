/**
 * Lambda deployment packages: validating, unpacking and building code zips. Everything that
 * reads a zip goes through one walker (walk.ts) that treats the archive as hostile.
 */
export { MAX_UNPACKED_BYTES, MAX_ZIP_BYTES } from './limits.js';
export { inspectZip, unpackZip } from './unpack.js';
export { zipDirectory } from './pack.js';
