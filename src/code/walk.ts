import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { Errors, isStratusError, type StratusError } from '../core/errors.js';
import { crc32 } from './crc32.js';
import { MAX_ENTRIES, MAX_LINK_TARGET_BYTES, MAX_UNPACKED_BYTES, MAX_ZIP_BYTES } from './limits.js';
import { badEntry, entrySegments, malformed, oversize } from './names.js';

export type ZipSource = Buffer | { path: string };

/** Where the bytes of one regular file go. */
export interface FileSink {
  write(chunk: Buffer): Promise<void>;
  close(): Promise<void>;
  /** Called instead of close() when the entry (or the archive) turned out bad. */
  abort(): Promise<void>;
}

/**
 * What is done with each validated entry. `segments` is the entry's path inside the code root.
 * `replaces` is true when an earlier file or symlink entry had the same path (later wins).
 * Errors thrown here that are not StratusErrors are reported as ServiceException: they are
 * the host's problem (disk full...), not the archive's.
 */
export interface ZipVisitor {
  dir(segments: string[]): Promise<void>;
  /** `mtime`: the entry's modification time (what Python's cached bytecode is checked against). */
  file(segments: string[], mode: number, replaces: boolean, mtime: Date): Promise<FileSink>;
  symlink(segments: string[], target: string, replaces: boolean): Promise<void>;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const DOS_DIRECTORY = 0x10;
/** "Version made by" host systems whose external attributes carry a unix mode. */
const UNIX_HOSTS = new Set([3 /* UNIX */, 19 /* OS X */]);

type Kind = 'dir' | 'file' | 'symlink';

/**
 * Reads a zip completely, entry by entry (yauzl, lazyEntries, validateEntrySizes), checking
 * everything a hostile archive can do wrong, and hands each good entry to the visitor:
 * names (absolute, `..` escapes, NUL, drive letters), symlink targets (UTF-8, no NUL; any path,
 * as the environment will resolve them), entry count, the
 * archive size, and the unpacked size counted on the ACTUAL inflated bytes (headers can lie),
 * aborting as soon as the running total passes MAX_UNPACKED_BYTES. CRC-32 is verified too.
 * A path is never written through a symlink or over a directory: conflicting entries are refused.
 */
export async function walkZip(source: ZipSource, visitor: ZipVisitor): Promise<{ entries: number; unpackedSize: number }> {
  const zipfile = await openZip(source);
  // Errors are taken per read below; an error emitted with no listener would crash the process.
  zipfile.on('error', () => undefined);
  try {
    if (zipfile.entryCount > MAX_ENTRIES) {
      throw Errors.invalidParameter(`Could not unzip uploaded file: more than ${MAX_ENTRIES} entries`);
    }
    const kinds = new Map<string, Kind>();
    let unpackedSize = 0;
    let entries = 0;
    const budget = (n: number) => {
      unpackedSize += n;
      if (unpackedSize > MAX_UNPACKED_BYTES) throw oversize();
    };

    for await (const entry of zipIterator(zipfile)) {
      entries++;
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      const segments = entrySegments(name);
      const kind = kindOf(entry, name);
      if (entry.isEncrypted()) throw badEntry(name, 'is encrypted');
      // Honest headers already tell: refuse before inflating anything.
      if (kind !== 'dir' && unpackedSize + entry.uncompressedSize > MAX_UNPACKED_BYTES) throw oversize();

      if (segments.length === 0) {
        if (kind === 'dir') continue; // "./" — the root itself
        throw badEntry(name, 'has an invalid name');
      }
      for (let i = 1; i < segments.length; i++) {
        const prefix = segments.slice(0, i).join('/');
        const seen = kinds.get(prefix);
        if (seen === 'symlink') throw badEntry(name, `is inside symlink '${prefix}'`);
        if (seen === 'file') throw badEntry(name, `conflicts with file '${prefix}'`);
        if (seen === undefined) kinds.set(prefix, 'dir');
      }
      const key = segments.join('/');
      const seen = kinds.get(key);
      if (seen !== undefined && (seen === 'dir') !== (kind === 'dir')) throw badEntry(name, 'conflicts with an earlier entry');
      const replaces = seen !== undefined && kind !== 'dir';
      kinds.set(key, kind);

      if (kind === 'dir') {
        await host(() => visitor.dir(segments));
      } else if (kind === 'symlink') {
        const raw = await readAll(zipfile, entry, name, MAX_LINK_TARGET_BYTES, budget);
        const target = raw.toString('utf8');
        // Any target a link can hold, as Lambda keeps it (`bootstrap -> /opt/bootstrap`, `node_modules ->
        // /opt/nodejs/node_modules`): it resolves in the environment, where /var/task and /opt are the
        // function's. Nothing on the host follows it (nothing is written through a link, see above;
        // environments/code-view.ts is how the server looks at unpacked code).
        if (target === '' || target.includes('\0') || !Buffer.from(target, 'utf8').equals(raw)) throw badEntry(name, 'is a symlink with an invalid target');
        await host(() => visitor.symlink(segments, target, replaces));
      } else {
        const mode = fileMode(entry, segments[segments.length - 1]!);
        const sink = await host(() => visitor.file(segments, mode, replaces, modifiedAt(entry)));
        try {
          await pump(zipfile, entry, budget, sink);
        } catch (e) {
          await sink.abort().catch(() => undefined);
          throw e;
        }
        await host(() => sink.close());
      }
    }
    return { entries, unpackedSize };
  } catch (e) {
    if (isStratusError(e)) throw e;
    throw malformed();
  } finally {
    zipfile.close();
  }
}

/**
 * An entry's modification time as unzip(1) gives it: the Info-ZIP extended timestamp (UTC) or
 * NTFS time where the archive has one, else the DOS date and time (local time, 2 s steps).
 */
function modifiedAt(entry: yauzl.Entry): Date {
  const d = entry.getLastModDate();
  return Number.isFinite(d.getTime()) ? d : new Date(0);
}

async function openZip(source: ZipSource): Promise<yauzl.ZipFile> {
  const options = { lazyEntries: true, validateEntrySizes: true, decodeStrings: false, autoClose: false, strictFileNames: false };
  if (Buffer.isBuffer(source)) {
    if (source.length > MAX_ZIP_BYTES) throw zipTooLarge();
    if (source.length === 0) throw malformed();
    try {
      return await yauzl.fromBufferPromise(source, options);
    } catch {
      throw malformed();
    }
  }
  let size: number;
  try {
    const st = await fs.promises.stat(source.path);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch (e) {
    throw Errors.service(`Could not read code package ${path.basename(source.path)}: ${(e as Error).message}`);
  }
  if (size > MAX_ZIP_BYTES) throw zipTooLarge();
  if (size === 0) throw malformed();
  try {
    return await yauzl.openPromise(source.path, options);
  } catch {
    throw malformed();
  }
}

function zipTooLarge(): StratusError {
  return Errors.invalidParameter(`Zipped size must be smaller than ${MAX_ZIP_BYTES} bytes`);
}

/**
 * yauzl's own eachEntry() closes the zipfile on error; this one leaves closing to walkZip and
 * reads the next entry only when the consumer asks for it (the consumer has finished the
 * previous entry's data by then).
 */
async function* zipIterator(zipfile: yauzl.ZipFile): AsyncGenerator<yauzl.Entry> {
  for (;;) {
    const next = await new Promise<yauzl.Entry | null>((resolve, reject) => {
      const onEntry = (e: yauzl.Entry) => { cleanup(); resolve(e); };
      const onEnd = () => { cleanup(); resolve(null); };
      const onError = (err: Error) => { cleanup(); reject(err); };
      const cleanup = () => {
        zipfile.off('entry', onEntry);
        zipfile.off('end', onEnd);
        zipfile.off('error', onError);
      };
      zipfile.on('entry', onEntry);
      zipfile.on('end', onEnd);
      zipfile.on('error', onError);
      zipfile.readEntry();
    });
    if (next === null) return;
    yield next;
  }
}

function unixModeOf(entry: yauzl.Entry): number | null {
  const mode = entry.externalFileAttributes >>> 16;
  if (mode === 0) return null;
  if (UNIX_HOSTS.has(entry.versionMadeBy >>> 8) || (mode & S_IFMT) !== 0) return mode;
  return null;
}

function kindOf(entry: yauzl.Entry, name: string): Kind {
  const mode = unixModeOf(entry);
  const type = mode === null ? 0 : mode & S_IFMT;
  if (type === S_IFLNK) return 'symlink';
  if (name.endsWith('/') || type === S_IFDIR || (mode === null && (entry.externalFileAttributes & DOS_DIRECTORY) !== 0)) return 'dir';
  if (type === 0 || type === S_IFREG) return 'file';
  throw badEntry(name, 'is not a regular file, directory or symlink');
}

/**
 * The zip's permission bits, kept as Lambda keeps them: a function runs as a user that owns none
 * of its files, so one without read for others cannot be loaded (Lambda: "Lambda requires global
 * read permissions on code files"; a 0600 module fails with EACCES) and a bootstrap without
 * execute for others cannot be started. The owner (the platform) may always read and write; no
 * one else may write (code and layers are shared by every environment of a version, and a host
 * path of theirs is writable in the sandbox where the mode allows it); no setuid, setgid or
 * sticky bit. Zips made on Windows carry no unix mode: 0644, and 0755 for a
 * file named `bootstrap` (a custom runtime's entry point).
 */
function fileMode(entry: yauzl.Entry, basename: string): number {
  const mode = unixModeOf(entry);
  if (mode === null) return basename === 'bootstrap' ? 0o755 : 0o644;
  return (mode & 0o755) | 0o600;
}

/** Runs a visitor call; a non-Stratus failure is the host's, reported as ServiceException. */
async function host<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isStratusError(e)) throw e;
    throw Errors.service(`Could not unpack code: ${(e as Error).message}`);
  }
}

async function openData(zipfile: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return zipfile.openReadStreamPromise(entry);
}

/**
 * Small entries are inflated in one synchronous call, bounded by their declared size (which the
 * budget already admitted): a zip of many small files would otherwise spend most of its time
 * in thread-pool round trips, one per entry.
 */
const SMALL_COMPRESSED = 256 * 1024;
const SMALL_UNCOMPRESSED = 4 * 1024 * 1024;

async function readSmall(zipfile: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  const stream = await zipfile.openReadStreamPromise(entry, { decodeFileData: false });
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  const raw = Buffer.concat(chunks);
  if (raw.length !== entry.compressedSize) throw malformed();
  if (entry.compressionMethod === 0) return raw;
  // One byte more than declared is allowed out so that a lie is seen (and refused).
  const out = zlib.inflateRawSync(raw, { maxOutputLength: entry.uncompressedSize + 1 });
  if (out.length !== entry.uncompressedSize) throw malformed();
  return out;
}

function isSmall(entry: yauzl.Entry): boolean {
  return (
    (entry.compressionMethod === 8 || entry.compressionMethod === 0) &&
    entry.compressedSize <= SMALL_COMPRESSED &&
    entry.uncompressedSize <= SMALL_UNCOMPRESSED
  );
}

/** Streams one entry's inflated bytes into the sink, counting against the budget, checking CRC. */
async function pump(zipfile: yauzl.ZipFile, entry: yauzl.Entry, budget: (n: number) => void, sink: FileSink): Promise<void> {
  if (isSmall(entry)) {
    const data = await readSmall(zipfile, entry);
    budget(data.length);
    if (crc32(data, 0) >>> 0 !== entry.crc32 >>> 0) throw malformed();
    if (data.length > 0) await host(() => sink.write(data));
    return;
  }
  const stream = await openData(zipfile, entry);
  let crc = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      budget(chunk.length);
      crc = crc32(chunk, crc);
      await host(() => sink.write(chunk));
    }
  } finally {
    stream.destroy();
  }
  if (crc >>> 0 !== entry.crc32 >>> 0) throw malformed();
}

async function readAll(zipfile: yauzl.ZipFile, entry: yauzl.Entry, name: string, max: number, budget: (n: number) => void): Promise<Buffer> {
  const tooLong = () => badEntry(name, 'is a symlink with a target that is too long');
  if (entry.uncompressedSize > max) throw tooLong();
  const chunks: Buffer[] = [];
  let total = 0;
  let crc = 0;
  const stream = await openData(zipfile, entry);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > max) throw tooLong();
      budget(chunk.length);
      crc = crc32(chunk, crc);
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  if (crc >>> 0 !== entry.crc32 >>> 0) throw malformed();
  return Buffer.concat(chunks);
}
