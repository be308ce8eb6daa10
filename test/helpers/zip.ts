import yazl from 'yazl';

export interface ZipEntry {
  content: string | Buffer;
  /** A symlink to this target instead (as `zip -y` stores one: mode 0120777, the target as its data). */
  link?: string;
  /** Unix mode, e.g. 0o755 for an executable bootstrap. */
  mode?: number;
  /** Modification time (default: now). */
  mtime?: Date;
}

/** Builds a zip in memory from { 'path/in/zip': content }. */
export function makeZip(files: Record<string, string | Buffer | ZipEntry | { link: string }>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, v] of Object.entries(files)) {
    const entry: ZipEntry = typeof v === 'string' || Buffer.isBuffer(v) ? { content: v } : { content: '', ...v };
    if (entry.link !== undefined) {
      zip.addBuffer(Buffer.from(entry.link), name, { mode: 0o120777, compress: false });
      continue;
    }
    const data = typeof entry.content === 'string' ? Buffer.from(entry.content) : entry.content;
    zip.addBuffer(data, name, { mode: entry.mode ?? 0o644, ...(entry.mtime ? { mtime: entry.mtime } : {}) });
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}
