import { Errors, type StratusError } from '../core/errors.js';
import { MAX_PATH_BYTES, MAX_SEGMENT_BYTES, MAX_UNPACKED_BYTES } from './limits.js';

/**
 * Lambda refuses a bad upload (CreateFunction, UpdateFunctionCode, PublishLayerVersion) as
 * InvalidParameterValueException: its InvalidZipFileException (502 in the model) is an invoke-time
 * failure. Every refusal here is an InvalidParameterValueException.
 */

/** Lambda's message for an archive that cannot be read at all. */
export const MALFORMED_MESSAGE = 'Could not unzip uploaded file. Please check your file, then try to upload again.';
export const OVERSIZE_MESSAGE = `Unzipped size must be smaller than ${MAX_UNPACKED_BYTES} bytes`;

export function malformed(): StratusError {
  return Errors.invalidParameter(MALFORMED_MESSAGE);
}

export function oversize(): StratusError {
  return Errors.invalidParameter(OVERSIZE_MESSAGE);
}

/** A name safe to echo in an error message: no control characters, bounded length. */
export function shown(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}...` : clean;
}

export function escapes(name: string): StratusError {
  return Errors.invalidParameter(`Could not unzip uploaded file: entry '${shown(name)}' escapes the code root`);
}

export function badEntry(name: string, why: string): StratusError {
  return Errors.invalidParameter(`Could not unzip uploaded file: entry '${shown(name)}' ${why}`);
}

/**
 * The path an entry name designates inside the code root, as forward-slash segments with `.`
 * and empty segments dropped and `..` applied lexically. Refuses (InvalidParameterValueException)
 * names that are absolute (`/x`, `C:/x`, `\\server\x` once backslashes became slashes), contain
 * NUL, climb above the root, or exceed PATH_MAX / NAME_MAX. An empty result means the root.
 *
 * Lexical `..` is safe because the unpacker writes only to the path computed here, never lets
 * the filesystem resolve a `..`, and never writes through a symlink (see walk.ts).
 */
export function entrySegments(name: string): string[] {
  if (name.includes('\0')) throw badEntry(name, 'has an invalid name');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw escapes(name);
  if (Buffer.byteLength(name) > MAX_PATH_BYTES) throw badEntry(name, 'has a name that is too long');
  const out: string[] = [];
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) throw escapes(name);
      out.pop();
      continue;
    }
    if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) throw badEntry(name, 'has a name that is too long');
    out.push(seg);
  }
  return out;
}

/**
 * True when a symlink at `linkSegments` (its path inside the root) with this target resolves
 * inside the root: the packer's rule for a local directory (zipDirectory), where a link that
 * leaves the tree most likely names a file of this machine, not of the environment. (Uploaded
 * archives may hold links with any target, see walk.ts.) The rule is stricter than lexical
 * resolution so that it also holds when the target walks through other symlinks: the target must
 * be relative, must not contain NUL or a
 * backslash, and may climb with `..` only at its start, no higher than the link's own directory;
 * after the first real segment no `..` may follow (`a/../x` would climb from wherever the symlink
 * `a` points). Each symlink then resolves inside the root by induction over resolution depth,
 * given that nothing is ever written through a symlink.
 */
export function linkTargetStaysInside(linkSegments: string[], target: string): boolean {
  if (target === '' || target.includes('\0') || target.includes('\\')) return false;
  if (target.startsWith('/') || /^[a-zA-Z]:/.test(target)) return false;
  let climbs = 0;
  let descended = false;
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (descended) return false;
      climbs++;
    } else {
      descended = true;
    }
  }
  return climbs <= linkSegments.length - 1;
}
