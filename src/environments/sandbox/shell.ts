import fs from 'node:fs';

/** Quotes one word for /bin/sh. */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function realpathOr(p: string): string {
  try { return fs.realpathSync(p); } catch { return p; }
}

/** True when `p` is `dir` or inside it. */
export function isUnder(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

export function findExecutable(name: string, dirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']): string | null {
  for (const d of dirs) {
    const f = `${d}/${name}`;
    try { fs.accessSync(f, fs.constants.X_OK); return f; } catch { /* next */ }
  }
  return null;
}
