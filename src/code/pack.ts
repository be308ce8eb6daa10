import fs from 'node:fs';
import path from 'node:path';
import yazl from 'yazl';
import { Errors } from '../core/errors.js';
import { linkTargetStaysInside } from './names.js';

/** Directory names never packed: version control and Stratus's own state. */
const SKIPPED = new Set(['.git', '.stratus']);

/**
 * A fixed timestamp for every entry so the same tree gives the same bytes (and CodeSha256).
 * DOS timestamps are local time: building the date from local fields makes the stored value
 * 1980-01-01 00:00 in every time zone; forceDosTimestamp leaves out the UTC extra field.
 */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);

type Item =
  | { rel: string; kind: 'dir' }
  | { rel: string; kind: 'file'; abs: string; mode: number }
  | { rel: string; kind: 'symlink'; target: string };

/**
 * Zips the contents of `dir` (a Lambda deployment package): paths relative to `dir` with
 * forward slashes, sorted, fixed mtime, file modes kept, symlinks inside the tree stored as
 * symlinks. `.git` and `.stratus` are skipped at any depth. A symlink pointing
 * outside the tree, or anything that is not a file, directory or symlink, is refused
 * (InvalidParameterValueException) rather than silently dropped or followed.
 */
export async function zipDirectory(dir: string): Promise<Buffer> {
  const root = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(root);
  } catch {
    throw Errors.invalidParameter(`Cannot zip ${dir}: no such directory`);
  }
  if (!st.isDirectory()) throw Errors.invalidParameter(`Cannot zip ${dir}: not a directory`);

  const items: Item[] = [];
  await collect(root, [], items);
  items.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));

  const zip = new yazl.ZipFile();
  const common = { mtime: FIXED_MTIME, forceDosTimestamp: true };
  for (const item of items) {
    if (item.kind === 'dir') zip.addEmptyDirectory(item.rel, { ...common, mode: 0o040755 });
    else if (item.kind === 'symlink') zip.addBuffer(Buffer.from(item.target, 'utf8'), item.rel, { ...common, mode: 0o120777, compress: false });
    else zip.addFile(item.abs, item.rel, { ...common, mode: 0o100000 | item.mode, compress: true });
  }
  zip.end();
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

async function collect(abs: string, segments: string[], out: Item[]): Promise<void> {
  const names = await fs.promises.readdir(abs);
  for (const name of names) {
    const childAbs = path.join(abs, name);
    const childSegments = [...segments, name];
    const rel = childSegments.join('/');
    if (SKIPPED.has(name)) continue; // also a worktree's `.git` file
    const st = await fs.promises.lstat(childAbs);
    if (st.isDirectory()) {
      out.push({ rel, kind: 'dir' });
      await collect(childAbs, childSegments, out);
    } else if (st.isFile()) {
      out.push({ rel, kind: 'file', abs: childAbs, mode: st.mode & 0o777 });
    } else if (st.isSymbolicLink()) {
      const target = await fs.promises.readlink(childAbs);
      if (!linkTargetStaysInside(childSegments, target)) {
        throw Errors.invalidParameter(`Cannot zip ${rel}: symlink target '${target}' is outside the directory`);
      }
      out.push({ rel, kind: 'symlink', target });
    } else {
      throw Errors.invalidParameter(`Cannot zip ${rel}: not a regular file, directory or symlink`);
    }
  }
}
