import fs from 'node:fs';
import path from 'node:path';
import yauzl from 'yauzl';
import { zipDirectory } from '../code/index.js';
import { isStratusError } from '../core/errors.js';
import { CliError } from './errors.js';

/** One file of a deployment package, as far as choosing defaults needs to know it. */
export interface PackageFile {
  /** Path inside the package, '/'-separated. */
  path: string;
  executable: boolean;
}

export const DEFAULT_RUNTIME = 'nodejs20.x';
export const PYTHON_RUNTIME = 'python3.12';
export const CUSTOM_RUNTIME = 'provided.al2023';
export const DEFAULT_HANDLER = 'index.handler';
export const PYTHON_HANDLER = 'lambda_function.lambda_handler';

/**
 * The runtime and handler `deploy-function` uses when not told:
 * - an executable `bootstrap` at the top of the package -> provided.al2023;
 * - Python files (.py) and no JavaScript (.js, .mjs, .cjs) -> python3.12;
 * - otherwise nodejs20.x.
 * The handler is index.handler, except for Python when lambda_function.py is at the top:
 * lambda_function.lambda_handler (the name the Lambda console uses).
 */
export function inferDefaults(files: PackageFile[], given: { runtime?: string; handler?: string } = {}): { runtime: string; handler: string } {
  const isJs = (p: string) => /\.(js|mjs|cjs)$/.test(p);
  const runtime =
    given.runtime ??
    (files.some((f) => f.path === 'bootstrap' && f.executable)
      ? CUSTOM_RUNTIME
      : files.some((f) => f.path.endsWith('.py')) && !files.some((f) => isJs(f.path))
        ? PYTHON_RUNTIME
        : DEFAULT_RUNTIME);
  const handler =
    given.handler ??
    (runtime.startsWith('python') && files.some((f) => f.path === 'lambda_function.py') ? PYTHON_HANDLER : DEFAULT_HANDLER);
  return { runtime, handler };
}

const SKIP_DIRS = new Set(['node_modules', '.git', '__pycache__', '.venv', 'venv']);
const MAX_LISTED = 20_000;

/** The files of a directory (skipping node_modules, .git, __pycache__ and virtualenvs). */
export function listDirectory(dir: string): PackageFile[] {
  const out: PackageFile[] = [];
  const walk = (abs: string, rel: string) => {
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (out.length >= MAX_LISTED) return;
      const p = rel ? `${rel}/${e.name}` : e.name;
      const full = path.join(abs, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(full, p);
      } else {
        let executable = false;
        try {
          const st = fs.statSync(full);
          if (!st.isFile()) continue;
          executable = (st.mode & 0o111) !== 0;
        } catch {
          continue; // a dangling link
        }
        out.push({ path: p, executable });
      }
    }
  };
  walk(dir, '');
  return out;
}

/** The files of a zip archive, with the unix execute bits its entries carry. */
export function listZip(zip: Buffer): Promise<PackageFile[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (err, z) => {
      if (err || !z) return reject(new CliError(`not a valid zip file: ${err?.message ?? 'unreadable'}`));
      const out: PackageFile[] = [];
      z.on('entry', (e: yauzl.Entry) => {
        if (!e.fileName.endsWith('/')) {
          out.push({ path: e.fileName.replace(/^\.\//, ''), executable: ((e.externalFileAttributes >>> 16) & 0o111) !== 0 });
        }
        z.readEntry();
      });
      z.on('end', () => resolve(out));
      z.on('error', (e: Error) => reject(new CliError(`not a valid zip file: ${e.message}`)));
      z.readEntry();
    });
  });
}

/**
 * Zips a directory here, on the client. The packer reports what it cannot take (a symlink that
 * leaves the directory, a socket) as InvalidParameterValueException, its error for the server's
 * callers; no server said it here, so it is a plain local error.
 */
async function zipLocally(dir: string): Promise<Buffer> {
  try {
    return await zipDirectory(dir);
  } catch (e) {
    if (isStratusError(e)) throw new CliError(e.message);
    throw e;
  }
}

/** A deployment package read from a directory (zipped here) or a .zip file. */
export async function loadPackage(source: string): Promise<{ zip: Buffer; files: PackageFile[]; kind: 'directory' | 'zip' }> {
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch {
    throw new CliError(`${source}: no such file or directory`);
  }
  if (st.isDirectory()) {
    const files = listDirectory(source);
    if (files.length === 0) throw new CliError(`${source} is an empty directory: nothing to deploy`);
    return { zip: await zipLocally(source), files, kind: 'directory' };
  }
  const zip = fs.readFileSync(source);
  // Local file header or (an empty archive) end of central directory.
  if (zip.length < 4 || zip[0] !== 0x50 || zip[1] !== 0x4b || !((zip[2] === 3 && zip[3] === 4) || (zip[2] === 5 && zip[3] === 6))) {
    throw new CliError(`${source} is neither a directory nor a zip file`);
  }
  return { zip, files: await listZip(zip), kind: 'zip' };
}
