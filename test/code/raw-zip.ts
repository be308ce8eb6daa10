import zlib from 'node:zlib';

/**
 * A tiny raw zip writer for hostile archives yazl refuses to make: any entry name (`../x`,
 * `/etc/x`, NUL), any unix mode (symlinks to anywhere), lying sizes in the local and central
 * headers, wrong CRCs, central entries sharing one local body (overlapping-file bombs).
 */
export interface RawEntry {
  name: string | Buffer;
  /** Uncompressed content (ignored when `deflated` is given). */
  data?: Buffer;
  /** Pre-deflated body with its true CRC and size (for bombs built by streaming). */
  deflated?: { body: Buffer; crc: number; size: number };
  /** 0 store, 8 deflate (default: 8 when data is non-empty, else 0). */
  method?: 0 | 8;
  /** Unix mode incl. file type bits (e.g. 0o100755, 0o120777 for a symlink). */
  mode?: number;
  /** "Version made by" host: 3 unix (default), 0 MS-DOS (Windows tools). */
  host?: number;
  /** Raw low 16 bits of external attributes (MS-DOS attributes, e.g. 0x10 directory). */
  dosAttributes?: number;
  /** Lies written into BOTH headers instead of the true values. */
  claimSize?: number;
  claimCompressedSize?: number;
  claimCrc?: number;
  /** Central entry points at the local header of entry #n instead of its own (no local written). */
  shareLocalWith?: number;
}

const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };

export function crcOf(data: Buffer): number {
  return zlib.crc32(data) >>> 0;
}

export function rawZip(entries: RawEntry[], opts: { claimEntryCount?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  const DOS_TIME = 0;
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01

  entries.forEach((e, i) => {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
    const data = e.data ?? Buffer.alloc(0);
    let method: number;
    let body: Buffer;
    let crc: number;
    let size: number;
    if (e.deflated) {
      method = 8;
      body = e.deflated.body;
      crc = e.deflated.crc;
      size = e.deflated.size;
    } else {
      method = e.method ?? (data.length > 0 ? 8 : 0);
      body = method === 8 ? zlib.deflateRawSync(data) : data;
      crc = crcOf(data);
      size = data.length;
    }
    const csize = e.claimCompressedSize ?? body.length;
    const usize = e.claimSize ?? size;
    const hcrc = e.claimCrc ?? crc;
    const flags = typeof e.name === 'string' ? 0x800 : 0;

    let localOffset: number;
    if (e.shareLocalWith !== undefined) {
      localOffset = offsets[e.shareLocalWith]!;
    } else {
      localOffset = offset;
      const local = Buffer.concat([
        u32(0x04034b50), u16(20), u16(flags), u16(method), u16(DOS_TIME), u16(DOS_DATE),
        u32(hcrc), u32(csize), u32(usize), u16(name.length), u16(0), name, body,
      ]);
      parts.push(local);
      offset += local.length;
    }
    offsets[i] = localOffset;

    const host = e.host ?? 3;
    const external = (((e.mode ?? 0) << 16) | (e.dosAttributes ?? 0)) >>> 0;
    central.push(Buffer.concat([
      u32(0x02014b50), u16((host << 8) | 30), u16(20), u16(flags), u16(method), u16(DOS_TIME), u16(DOS_DATE),
      u32(hcrc), u32(csize), u32(usize), u16(name.length), u16(0), u16(0), u16(0), u16(0),
      u32(external), u32(localOffset), name,
    ]));
  });
  const cd = Buffer.concat(central);
  const count = opts.claimEntryCount ?? entries.length;
  const u64 = (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
  const zip64: Buffer[] = [];
  if (count > 0xffff) {
    // ZIP64 end of central directory record + locator: the only place a count above 65535 fits.
    const recordOffset = offset + cd.length;
    zip64.push(
      Buffer.concat([u32(0x06064b50), u64(44), u16((3 << 8) | 45), u16(45), u32(0), u32(0), u64(count), u64(count), u64(cd.length), u64(offset)]),
      Buffer.concat([u32(0x07064b50), u32(0), u64(recordOffset), u32(1)]),
    );
  }
  const small = Math.min(count, 0xffff);
  const eocd = Buffer.concat([
    u32(0x06054b50), u16(0), u16(0), u16(small), u16(small), u32(cd.length), u32(offset), u16(0),
  ]);
  return Buffer.concat([...parts, cd, ...zip64, eocd]);
}

/** `size` zero bytes deflated by streaming (a 300 MB bomb is ~300 KB and never sits in memory). */
export async function deflatedZeros(size: number): Promise<{ body: Buffer; crc: number; size: number }> {
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const chunks: Buffer[] = [];
  deflate.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => { deflate.on('end', resolve); deflate.on('error', reject); });
  const block = Buffer.alloc(1024 * 1024);
  let crc = 0;
  let left = size;
  while (left > 0) {
    const piece = left >= block.length ? block : block.subarray(0, left);
    crc = zlib.crc32(piece, crc);
    if (!deflate.write(piece)) await new Promise((r) => deflate.once('drain', r));
    left -= piece.length;
  }
  deflate.end();
  await done;
  return { body: Buffer.concat(chunks), crc: crc >>> 0, size };
}
