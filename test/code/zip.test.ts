import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import yauzl from 'yauzl';
import { MAX_UNPACKED_BYTES, MAX_ZIP_BYTES, inspectZip, unpackZip, zipDirectory } from '../../src/code/index.js';
import { isStratusError } from '../../src/core/errors.js';
import { makeZip } from '../helpers/zip.js';
import { deflatedZeros, rawZip, type RawEntry } from './raw-zip.js';

const MALFORMED = 'Could not unzip uploaded file. Please check your file, then try to upload again.';
const OVERSIZE = `Unzipped size must be smaller than ${MAX_UNPACKED_BYTES} bytes`;

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-zip-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
/** A fresh empty "jail" directory; the unpack destination is jail/dest (not created yet). */
function jail(): { jail: string; dest: string } {
  const j = path.join(tmp, `jail-${++n}`, 'inner');
  fs.mkdirSync(j, { recursive: true });
  return { jail: j, dest: path.join(j, 'dest') };
}

function invalidZip(message?: string | RegExp) {
  return (e: unknown) => {
    assert.ok(isStratusError(e), `expected a StratusError, got ${String(e)}`);
    // Lambda refuses every bad upload as an invalid parameter (its InvalidZipFileException is an invoke-time 502).
    assert.equal(e.code, 'InvalidParameterValueException');
    assert.equal(e.status, 400);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };
}

/** Both inspect and unpack refuse; nothing is left behind, in dest or around it. */
async function assertRefused(zip: Buffer, message?: string | RegExp): Promise<void> {
  await assert.rejects(inspectZip(zip), invalidZip(message));
  const { jail: j, dest } = jail();
  await assert.rejects(unpackZip(zip, dest), invalidZip(message));
  assert.equal(fs.existsSync(dest), false, 'dest must be removed');
  assert.deepEqual(fs.readdirSync(j), [], 'nothing written next to dest');
  assert.deepEqual(fs.readdirSync(path.dirname(j)), ['inner'], 'nothing written above dest');
  // The same from a file on disk (the blob store's local path).
  const file = path.join(tmp, `zip-${++n}.zip`);
  fs.writeFileSync(file, zip);
  const other = jail();
  await assert.rejects(unpackZip({ path: file }, other.dest), invalidZip(message));
  assert.equal(fs.existsSync(other.dest), false);
  assert.deepEqual(fs.readdirSync(other.jail), []);
}

const ESCAPES = /escapes the code root/;

async function entryNames(zip: Buffer): Promise<string[]> {
  const zf = await yauzl.fromBufferPromise(zip, { lazyEntries: true });
  const out: string[] = [];
  for await (const e of zf.eachEntry()) out.push(e.fileName);
  return out;
}

describe('inspectZip / unpackZip: good archives', () => {
  it('unpacks files, directories, modes and inside symlinks', async () => {
    const zip = rawZip([
      { name: 'index.js', data: Buffer.from('exports.handler = async () => 1;\n'), mode: 0o100644 },
      { name: 'bootstrap', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o100700 },
      { name: 'lib/', mode: 0o040700 },
      { name: 'lib/util.js', data: Buffer.from('module.exports = 2;\n'), mode: 0o100600 },
      { name: 'lib/deep/more/x.txt', data: Buffer.from('x'), mode: 0o104755 }, // setuid dropped
      { name: 'link-to-index', data: Buffer.from('index.js'), mode: 0o120777, method: 0 },
      { name: 'lib/up', data: Buffer.from('../index.js'), mode: 0o120777 },
      { name: 'lib/self', data: Buffer.from('.'), mode: 0o120777 },
      { name: './dot/./a.txt', data: Buffer.from('a'), mode: 0o100644 },
      { name: 'shared.txt', data: Buffer.from('s'), mode: 0o100666 },
    ]);
    const info = await inspectZip(zip);
    assert.equal(info.entries, 10);
    const expectedSize = 33 + 18 + 20 + 1 + 'index.js'.length + '../index.js'.length + 1 + 1 + 1;
    assert.equal(info.unpackedSize, expectedSize);

    const { dest } = jail();
    await unpackZip(zip, dest);
    const mode = (p: string) => fs.lstatSync(path.join(dest, p)).mode & 0o7777;
    assert.equal(fs.statSync(dest).mode & 0o777, 0o755);
    assert.equal(fs.readFileSync(path.join(dest, 'index.js'), 'utf8'), 'exports.handler = async () => 1;\n');
    assert.equal(mode('index.js'), 0o644);
    assert.equal(mode('bootstrap'), 0o700, 'as Lambda keeps it: not executable by the function\'s user');
    assert.equal(mode('lib'), 0o755);
    assert.equal(mode('lib/util.js'), 0o600, 'as Lambda keeps it: not readable by the function\'s user');
    assert.equal(mode('shared.txt'), 0o644, 'written by no one but the platform');
    assert.equal(mode('lib/deep'), 0o755);
    assert.equal(mode('lib/deep/more'), 0o755);
    assert.equal(mode('lib/deep/more/x.txt'), 0o755);
    assert.equal(fs.readlinkSync(path.join(dest, 'link-to-index')), 'index.js');
    assert.equal(fs.readFileSync(path.join(dest, 'link-to-index'), 'utf8'), 'exports.handler = async () => 1;\n');
    assert.equal(fs.readlinkSync(path.join(dest, 'lib/up')), '../index.js');
    assert.ok(fs.lstatSync(path.join(dest, 'lib/self')).isSymbolicLink());
    assert.equal(fs.readFileSync(path.join(dest, 'dot/a.txt'), 'utf8'), 'a');
  });

  it('a yazl-made archive (what tools produce) unpacks, also from a file path', async () => {
    const zip = await makeZip({
      'index.mjs': 'export const handler = async () => "ok";\n',
      'bin/tool': { content: '#!/bin/sh\n', mode: 0o755 },
    });
    const file = path.join(tmp, 'good.zip');
    fs.writeFileSync(file, zip);
    const { dest } = jail();
    await unpackZip({ path: file }, dest);
    assert.deepEqual(fs.readdirSync(dest).sort(), ['bin', 'index.mjs']);
    assert.equal(fs.statSync(path.join(dest, 'bin/tool')).mode & 0o777, 0o755);
    assert.equal(fs.statSync(path.join(dest, 'index.mjs')).mode & 0o777, 0o644);
  });

  it('files keep their modification time (Python\'s cached bytecode is checked against it)', async () => {
    const mtime = new Date('2024-03-05T06:07:09Z'); // an odd second: DOS time alone would round it
    const zip = await makeZip({ 'pkg/mod.py': { content: 'X = 1\n', mtime }, 'now.txt': 'x' });
    const { dest } = jail();
    await unpackZip(zip, dest);
    assert.equal(fs.statSync(path.join(dest, 'pkg/mod.py')).mtimeMs, mtime.getTime());
    assert.ok(Math.abs(fs.statSync(path.join(dest, 'now.txt')).mtimeMs - Date.now()) < 60_000);
  });

  it('zips made on Windows (no unix mode): bootstrap is executable, directories from DOS attributes', async () => {
    const zip = rawZip([
      { name: 'bootstrap', data: Buffer.from('#!/bin/sh\n'), host: 0, dosAttributes: 0x20 },
      { name: 'handler.py', data: Buffer.from('def h(e, c): return 1\n'), host: 0, dosAttributes: 0x20 },
      { name: 'pkg', host: 0, dosAttributes: 0x10 },
      { name: 'pkg\\mod.py', data: Buffer.from('x = 1\n'), host: 0 },
    ]);
    const { dest } = jail();
    await unpackZip(zip, dest);
    assert.equal(fs.statSync(path.join(dest, 'bootstrap')).mode & 0o777, 0o755);
    assert.equal(fs.statSync(path.join(dest, 'handler.py')).mode & 0o777, 0o644);
    assert.ok(fs.statSync(path.join(dest, 'pkg')).isDirectory());
    assert.equal(fs.readFileSync(path.join(dest, 'pkg/mod.py'), 'utf8'), 'x = 1\n');
  });

  it('a duplicate entry name: the later one wins (file over symlink, too)', async () => {
    const zip = rawZip([
      { name: 'a.txt', data: Buffer.from('first'), mode: 0o100644 },
      { name: 'a.txt', data: Buffer.from('second'), mode: 0o100755 },
      { name: 'l', data: Buffer.from('a.txt'), mode: 0o120777 },
      { name: 'l', data: Buffer.from('plain'), mode: 0o100644 },
    ]);
    const { dest } = jail();
    await unpackZip(zip, dest);
    assert.equal(fs.readFileSync(path.join(dest, 'a.txt'), 'utf8'), 'second');
    assert.equal(fs.statSync(path.join(dest, 'a.txt')).mode & 0o777, 0o755);
    assert.ok(fs.lstatSync(path.join(dest, 'l')).isFile());
    assert.equal(fs.readFileSync(path.join(dest, 'l'), 'utf8'), 'plain');
  });

  it('refuses to unpack into an existing directory and leaves it alone', async () => {
    const zip = await makeZip({ 'a.txt': 'a' });
    const { dest } = jail();
    fs.mkdirSync(dest);
    fs.writeFileSync(path.join(dest, 'keep'), 'mine');
    await assert.rejects(unpackZip(zip, dest), (e: unknown) => isStratusError(e) && e.code === 'ServiceException');
    assert.deepEqual(fs.readdirSync(dest), ['keep']);
  });
});

describe('inspectZip / unpackZip: hostile names', () => {
  const cases: Array<[string, RawEntry[]]> = [
    ['path traversal ../evil', [{ name: '../evil', data: Buffer.from('pwned') }]],
    ['traversal hidden in the middle a/../../evil', [{ name: 'a/../../evil', data: Buffer.from('pwned') }]],
    ['absolute /etc/x', [{ name: '/etc/x', data: Buffer.from('pwned') }]],
    ['backslash drive letter C:\\evil', [{ name: 'C:\\evil', data: Buffer.from('pwned'), host: 0 }]],
    ['backslash traversal ..\\evil', [{ name: '..\\evil', data: Buffer.from('pwned'), host: 0 }]],
    ['UNC path \\\\server\\share', [{ name: '\\\\server\\share\\x', data: Buffer.from('pwned'), host: 0 }]],
    ['traversal after a good entry', [{ name: 'ok.txt', data: Buffer.from('ok') }, { name: 'x/../../../evil', data: Buffer.from('pwned') }]],
  ];
  for (const [title, entries] of cases) {
    it(`refuses ${title}`, async () => {
      await assertRefused(rawZip(entries), ESCAPES);
      assert.equal(fs.existsSync(path.join(tmp, 'evil')), false);
    });
  }

  // Lambda keeps a link whatever its target (`bootstrap -> /opt/bootstrap`): it resolves in the
  // environment. Unpacked, it is a link with that target, and nothing is written through it.
  const links: Array<[string, RawEntry[], Record<string, string>]> = [
    ['symlink to /etc/passwd', [{ name: 'passwd', data: Buffer.from('/etc/passwd'), mode: 0o120777 }], { passwd: '/etc/passwd' }],
    ['symlink bootstrap -> /opt/bootstrap', [{ name: 'bootstrap', data: Buffer.from('/opt/bootstrap'), mode: 0o120777 }], { bootstrap: '/opt/bootstrap' }],
    ['symlink a -> ../../x', [{ name: 'a', data: Buffer.from('../../x'), mode: 0o120777 }], { a: '../../x' }],
    ['symlink d/l -> ../../x (above the root)', [{ name: 'd/l', data: Buffer.from('../../x'), mode: 0o120777 }], { 'd/l': '../../x' }],
    ['symlink at the root -> ..', [{ name: 'up', data: Buffer.from('..'), mode: 0o120777 }], { up: '..' }],
    [
      'chained symlinks d/a -> .. then d/x -> a/../d',
      [{ name: 'd/a', data: Buffer.from('..'), mode: 0o120777 }, { name: 'd/x', data: Buffer.from('a/../d'), mode: 0o120777 }],
      { 'd/a': '..', 'd/x': 'a/../d' },
    ],
    ['a backslash in a target (a character like any other on Linux)', [{ name: 'b', data: Buffer.from('..\\x'), mode: 0o120777 }], { b: '..\\x' }],
  ];
  for (const [title, entries, want] of links) {
    it(`keeps ${title} as a link`, async () => {
      const zip = rawZip(entries);
      assert.equal((await inspectZip(zip)).entries, entries.length);
      const { jail: j, dest } = jail();
      await unpackZip(zip, dest);
      for (const [name, target] of Object.entries(want)) {
        assert.ok(fs.lstatSync(path.join(dest, name)).isSymbolicLink(), name);
        assert.equal(fs.readlinkSync(path.join(dest, name)), target);
      }
      assert.deepEqual(fs.readdirSync(j), ['dest'], 'nothing written beside the root');
    });
  }

  it('refuses a symlink with an empty target or a NUL in it', async () => {
    await assertRefused(rawZip([{ name: 'e', data: Buffer.alloc(0), mode: 0o120777 }]), /symlink with an invalid target/);
    await assertRefused(rawZip([{ name: 'n', data: Buffer.from('/opt/a\0b'), mode: 0o120777 }]), /symlink with an invalid target/);
  });

  it('refuses a name with a NUL byte', async () => {
    await assertRefused(rawZip([{ name: Buffer.from('a\0b'), data: Buffer.from('x') }]), /invalid name/);
  });

  it('refuses writing through a symlink inside the archive', async () => {
    // l -> d is inside the root, but a later entry l/x would be written wherever l points; so
    // would one through a link to a host directory.
    for (const target of ['d', tmp]) {
      await assertRefused(
        rawZip([
          { name: 'd/', mode: 0o040755 },
          { name: 'l', data: Buffer.from(target), mode: 0o120777 },
          { name: 'l/x', data: Buffer.from('x') },
        ]),
        /inside symlink 'l'/,
      );
      assert.equal(fs.existsSync(path.join(tmp, 'x')), false);
    }
  });

  it('refuses entries that conflict (file then a path under it, directory over a file)', async () => {
    await assertRefused(rawZip([{ name: 'a', data: Buffer.from('x') }, { name: 'a/b', data: Buffer.from('y') }]), /conflicts/);
    await assertRefused(rawZip([{ name: 'a/b', data: Buffer.from('y') }, { name: 'a', data: Buffer.from('x') }]), /conflicts/);
    await assertRefused(rawZip([{ name: 'a/b', data: Buffer.from('y') }, { name: 'a', data: Buffer.from('b'), mode: 0o120777 }]), /conflicts/);
  });

  it('refuses device files and FIFOs', async () => {
    await assertRefused(rawZip([{ name: 'fifo', mode: 0o010644 }]), /not a regular file/);
    await assertRefused(rawZip([{ name: 'dev', mode: 0o060644 }]), /not a regular file/);
  });
});

describe('inspectZip / unpackZip: bombs and size limits', () => {
  const BOMB = 300 * 1024 * 1024;
  let zeros: { body: Buffer; crc: number; size: number };
  before(async () => {
    zeros = await deflatedZeros(BOMB);
    assert.ok(zeros.body.length < 1024 * 1024, `bomb should be small, is ${zeros.body.length}`);
  });

  it('refuses an honest bomb (300 MB of zeros)', async () => {
    await assertRefused(rawZip([{ name: 'zeros', deflated: zeros }]), OVERSIZE);
  });

  it('refuses a bomb whose local and central headers claim a small size', async () => {
    await assertRefused(rawZip([{ name: 'zeros', deflated: zeros, claimSize: 1000 }]));
  });

  it('refuses a bomb whose headers claim it is just under the limit', async () => {
    await assertRefused(rawZip([{ name: 'zeros', deflated: zeros, claimSize: MAX_UNPACKED_BYTES - 10 }]));
  });

  it('refuses overlapping entries that each look small but add up (running total)', async () => {
    const tenMb = await deflatedZeros(10 * 1024 * 1024);
    const entries: RawEntry[] = [{ name: 'f0', deflated: tenMb }];
    for (let i = 1; i < 30; i++) entries.push({ name: `f${i}`, deflated: tenMb, shareLocalWith: 0 });
    await assertRefused(rawZip(entries), OVERSIZE);
  });

  it('accepts an archive just under the limit and counts its actual size', async () => {
    const big = await deflatedZeros(20 * 1024 * 1024);
    const info = await inspectZip(rawZip([{ name: 'a', deflated: big }, { name: 'b', deflated: big }]));
    assert.deepEqual(info, { entries: 2, unpackedSize: 40 * 1024 * 1024 });
  });

  it('refuses a zip larger than MAX_ZIP_BYTES', async () => {
    const huge = Buffer.alloc(MAX_ZIP_BYTES + 1);
    await assert.rejects(inspectZip(huge), invalidZip(/Zipped size must be smaller than 52428800 bytes/));
    const { dest } = jail();
    await assert.rejects(unpackZip(huge, dest), invalidZip());
    assert.equal(fs.existsSync(dest), false);
  });

  it('refuses more than 100,000 entries', async () => {
    const entries: RawEntry[] = [];
    for (let i = 0; i <= 100_000; i++) entries.push({ name: `f/${i}` });
    await assertRefused(rawZip(entries), /more than 100000 entries/);
    // 100,000 exactly is fine (the ZIP64 count is read right).
    entries.pop();
    assert.equal((await inspectZip(rawZip(entries))).entries, 100_000);
  });
});

describe('inspectZip / unpackZip: malformed archives', () => {
  it('refuses an empty buffer', async () => {
    await assertRefused(Buffer.alloc(0), MALFORMED);
  });

  it('refuses garbage bytes', async () => {
    await assertRefused(Buffer.from('this is not a zip file at all, just some text'), MALFORMED);
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) random[i] = (i * 7919 + 13) & 0xff;
    await assertRefused(random, MALFORMED);
  });

  it('refuses a truncated archive', async () => {
    const zip = await makeZip({ 'a.txt': 'a'.repeat(10_000), 'b.txt': 'hello' });
    await assertRefused(zip.subarray(0, Math.floor(zip.length / 2)), MALFORMED);
    await assertRefused(zip.subarray(0, zip.length - 5), MALFORMED);
  });

  it('refuses corrupted data (CRC mismatch) and a corrupt deflate stream', async () => {
    await assertRefused(rawZip([{ name: 'a.txt', data: Buffer.from('hello'), method: 0, claimCrc: 12345 }]), MALFORMED);
    const good = rawZip([{ name: 'a.txt', data: Buffer.from('hello world '.repeat(100)), method: 8 }]);
    const bad = Buffer.from(good);
    for (let i = 40; i < 60; i++) bad[i] = 0xff; // inside the deflated body
    await assertRefused(bad, MALFORMED);
  });

  it('refuses a stored entry whose sizes disagree', async () => {
    await assertRefused(rawZip([{ name: 'a.txt', data: Buffer.from('hello'), method: 0, claimSize: 3 }]), MALFORMED);
  });

  it('refuses an encrypted entry', async () => {
    const zip = rawZip([{ name: 'a.txt', data: Buffer.from('hello'), method: 0 }]);
    // Set the "encrypted" general purpose bit in both headers.
    zip.writeUInt16LE(zip.readUInt16LE(6) | 1, 6);
    const cd = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt16LE(zip.readUInt16LE(cd + 8) | 1, cd + 8);
    await assertRefused(zip);
  });
});

describe('zipDirectory', () => {
  function tree(): string {
    const d = path.join(tmp, `tree-${++n}`);
    fs.mkdirSync(path.join(d, 'lib/nested'), { recursive: true });
    fs.mkdirSync(path.join(d, 'empty'));
    fs.mkdirSync(path.join(d, '.git/objects'), { recursive: true });
    fs.mkdirSync(path.join(d, '.stratus'));
    fs.mkdirSync(path.join(d, 'sub/.git'), { recursive: true });
    fs.writeFileSync(path.join(d, '.git/HEAD'), 'ref: refs/heads/main\n');
    fs.writeFileSync(path.join(d, '.stratus/stratus.db'), 'db');
    fs.writeFileSync(path.join(d, 'sub/.git/config'), 'x');
    fs.writeFileSync(path.join(d, 'sub/keep.txt'), 'keep');
    fs.writeFileSync(path.join(d, 'index.js'), 'exports.handler = async (e) => e;\n');
    fs.writeFileSync(path.join(d, '.env'), 'HIDDEN=1\n'); // dotfiles other than those two are kept
    fs.writeFileSync(path.join(d, 'bootstrap'), '#!/bin/sh\n', { mode: 0o755 });
    fs.chmodSync(path.join(d, 'bootstrap'), 0o755);
    fs.writeFileSync(path.join(d, 'lib/nested/data.json'), JSON.stringify({ big: 'x'.repeat(5000) }));
    fs.symlinkSync('../index.js', path.join(d, 'lib/entry.js'));
    fs.symlinkSync('lib', path.join(d, 'libdir'));
    return d;
  }

  it('round-trips through unpackZip: contents, modes, symlinks, skips .git and .stratus', async () => {
    const src = tree();
    const zip = await zipDirectory(src);
    const info = await inspectZip(zip);
    assert.ok(info.entries > 0);
    const { dest } = jail();
    await unpackZip(zip, dest);
    const list = (root: string, rel = ''): string[] =>
      fs.readdirSync(path.join(root, rel)).sort().flatMap((name) => {
        const r = rel ? `${rel}/${name}` : name;
        const st = fs.lstatSync(path.join(root, r));
        return st.isDirectory() ? [`${r}/`, ...list(root, r)] : [r];
      });
    assert.deepEqual(list(dest), [
      '.env', 'bootstrap', 'empty/', 'index.js', 'lib/', 'lib/entry.js', 'lib/nested/', 'lib/nested/data.json', 'libdir', 'sub/', 'sub/keep.txt',
    ]);
    assert.equal(fs.statSync(path.join(dest, 'bootstrap')).mode & 0o777, 0o755);
    assert.equal(fs.statSync(path.join(dest, 'index.js')).mode & 0o777, 0o644);
    assert.equal(fs.readlinkSync(path.join(dest, 'lib/entry.js')), '../index.js');
    assert.equal(fs.readlinkSync(path.join(dest, 'libdir')), 'lib');
    assert.equal(fs.readFileSync(path.join(dest, 'lib/nested/data.json'), 'utf8'), fs.readFileSync(path.join(src, 'lib/nested/data.json'), 'utf8'));
  });

  it('is deterministic: same tree, same bytes, whatever the mtimes', async () => {
    const src = tree();
    const a = await zipDirectory(src);
    fs.utimesSync(path.join(src, 'index.js'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
    const b = await zipDirectory(src);
    assert.ok(a.equals(b));
    // An identical tree built elsewhere gives the same bytes too.
    const c = await zipDirectory(tree());
    assert.ok(a.equals(c));
    // Paths are relative with forward slashes, sorted.
    const names = await entryNames(a);
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes('lib/nested/data.json'));
    assert.ok(names.every((x) => !x.startsWith('/') && !x.includes('\\')));
    fs.writeFileSync(path.join(src, 'index.js'), 'changed');
    assert.ok(!a.equals(await zipDirectory(src)));
  });

  it('refuses a symlink that points outside the directory, and a missing directory', async () => {
    const src = tree();
    fs.symlinkSync('/etc/passwd', path.join(src, 'passwd'));
    await assert.rejects(zipDirectory(src), (e: unknown) => isStratusError(e) && e.code === 'InvalidParameterValueException' && /passwd/.test(e.message));
    const src2 = tree();
    fs.symlinkSync('../../outside', path.join(src2, 'lib/out'));
    await assert.rejects(zipDirectory(src2), /outside the directory/);
    await assert.rejects(zipDirectory(path.join(tmp, 'nope')), /no such directory/);
  });
});
