import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { diskReserveMiB, EphemeralVolumes, imageMiB, type Volume } from '../../src/environments/sandbox/ephemeral.js';
import { pythonExecutable } from '../../src/environments/runtimes.js';
import { fixture, invocation, isRoot, loopDevicesOf, sleep, type Fixture } from './helpers.js';

// What a function sees of /tmp, as Lambda gives it: an empty directory of EphemeralStorage's
// size, on storage of its own: writing there is not using memory.
const PY = `import errno, os
def handler(event, context):
    st = os.statvfs('/tmp')
    out = {"listing": sorted(os.listdir('/tmp')), "mode": oct(os.stat('/tmp').st_mode & 0o7777), "availMiB": st.f_bavail * st.f_frsize // 1048576, "inodes": st.f_favail,
           "fs": [l.split(' - ')[1].split(' ')[0] for l in open('/proc/self/mountinfo') if l.split(' ')[4] == '/tmp']}
    if event.get("writeMiB"):
        chunk = b'x' * 1048576
        with open('/tmp/big', 'wb') as f:
            for _ in range(event["writeMiB"]):
                f.write(chunk)
        n = 0
        with open('/tmp/big', 'rb') as f:
            while True:
                b = f.read(1048576)
                if not b: break
                n += len(b)
        out["readBack"] = n
        os.unlink('/tmp/big')
    if event.get("allocateMiB"):
        fd = os.open('/tmp/alloc', os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            os.posix_fallocate(fd, 0, event["allocateMiB"] << 20)
            out["allocate"] = "ok"
        except OSError as e:
            out["allocate"] = errno.errorcode[e.errno]
        finally:
            os.close(fd)
            os.unlink('/tmp/alloc')
    return out
`;

// Each volume holds its whole size of disk while its environment lives (and two wait ready).
const freeGiB = (() => { try { const s = fs.statfsSync(os.tmpdir()); return (s.bavail * s.bsize) / 2 ** 30; } catch { return Infinity; } })();

describe('/tmp: ephemeral storage of its own', {
  skip: (!isRoot && 'the namespace driver (root) gives /tmp a volume') || (freeGiB < 4 && `${freeGiB.toFixed(1)} GiB free on the disk of ${os.tmpdir()}: volumes need 4`),
}, async () => {
  const fx = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 0 });
  const volumes = path.join(fx.dataDir, 'ephemeral');
  // Nothing of the host either where the data dir or the checkout is under the host's /tmp, as
  // they are for tests (their code and runtime are bound from out of the function's sight).
  assert.ok(fs.realpathSync(fx.dataDir).startsWith('/tmp/'), fx.dataDir);
  after(() => fx.stop());

  async function run(f: Fixture, event: object, cfg: { memorySize: number; ephemeralStorage?: number }, name: string) {
    const key = f.code({ 'app.py': PY });
    const o = await f.svc.execute(f.target(key, { runtime: 'python3.12', handler: 'app.handler', timeout: 60, ...cfg }, name), invocation(JSON.stringify(event)));
    assert.equal(o.status, 'ok', o.payload.toString());
    return { out: JSON.parse(o.payload.toString()), outcome: o };
  }

  test('a 128 MB function writes 200 MB to /tmp and reads it back (a tmpfs /tmp killed it: its pages were memory)', async () => {
    const { out, outcome } = await run(fx, { writeMiB: 200 }, { memorySize: 128 }, 'tmp-write');
    assert.equal(out.readBack, 200 * 1048576);
    assert.deepEqual(out.fs, ['ext4']);
    assert.ok(outcome.maxMemoryUsedMB <= 128, `Max Memory Used ${outcome.maxMemoryUsedMB} MB`);
    assert.match(fx.sink.text(), /REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB/);
  });

  test('EphemeralStorage sizes /tmp: an empty 1777 directory holding at least that much and not 100 MB more', async () => {
    for (const size of [512, 1024]) {
      const { out } = await run(fx, { allocateMiB: 600 }, { memorySize: 128, ephemeralStorage: size }, `tmp-size-${size}`);
      assert.deepEqual(out.listing, [], 'no lost+found, nothing of the host');
      assert.equal(out.mode, '0o1777');
      assert.ok(out.availMiB >= size && out.availMiB < size + 32, `${out.availMiB} MiB available for ${size} MB`);
      assert.ok(out.inodes >= size * 60, `${out.inodes} inodes: room for many small files (ext4's one per 16 KiB)`);
      assert.equal(out.allocate, size === 512 ? 'ENOSPC' : 'ok', `600 MB in a /tmp of ${size} MB`);
    }
    // The largest: its inode tables and ext4's 16 MiB reserve, a little more than 10 GB of disk.
    assert.ok(imageMiB(10240) > 10240 + 16 && imageMiB(10240) < 10240 * 1.02 + 20, `${imageMiB(10240)} MiB for 10240 MB`);
  });

  test('each environment gets its own /tmp: what one leaves there, the next one does not see', async () => {
    const key = fx.code({ 'app.py': 'import os\ndef handler(event, context):\n    seen = sorted(os.listdir("/tmp"))\n    open("/tmp/mark-" + context.aws_request_id, "w").write("x")\n    return seen\n' });
    for (const revision of ['a', 'b']) {
      // A new revision: a new environment.
      const o = await fx.svc.execute(fx.target(key, { runtime: 'python3.12', handler: 'app.handler' }, 'tmp-own', revision), invocation('{}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      assert.deepEqual(JSON.parse(o.payload.toString()), []);
    }
  });

  test('volumes leave nothing behind: none of their files stay, and their devices go with their environments', async () => {
    const f = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 1 });
    const dir = path.join(f.dataDir, 'ephemeral');
    try {
      await run(f, {}, { memorySize: 128 }, 'tmp-gone');
      await run(f, {}, { memorySize: 128, ephemeralStorage: 700 }, 'tmp-gone-700');
      assert.ok(loopDevicesOf(dir).length >= 2, 'the environments\' (and the ready ones\')');
      // Templates only (one per size): each volume's file was unlinked once attached.
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('stratus-vol')), []);
      assert.equal(fs.readdirSync(dir).filter((n) => n.startsWith('stratus-tpl')).length, 2);
    } finally {
      await f.stop();
    }
    let left = loopDevicesOf(dir);
    for (let i = 0; i < 50 && left.length; i++) { await sleep(100); left = loopDevicesOf(dir); }
    assert.deepEqual(left, []);
    assert.ok(loopDevicesOf(volumes).length >= 1, 'the other service keeps its own');
  });
});

test('the disk reserve of /tmp volumes: 5% of the disk, between 512 MiB and 4 GiB', () => {
  assert.equal(diskReserveMiB(1536), 512);
  assert.equal(diskReserveMiB(40 * 1024), 2048);
  assert.equal(diskReserveMiB(252 * 1024), 4096);
});

/** A data dir on a disk of its own of `sizeMiB` (ext4 on a loop device), and a fixture over it; both gone after the suite. */
async function smallDisk(sizeMiB: number, withFixture = true): Promise<{ mnt: string; fx: Fixture | null }> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-small-disk-'));
  const image = path.join(base, 'disk.img');
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, sizeMiB * 1024 * 1024);
  const sh = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
  sh('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
  sh('mount', ['-o', 'loop', image, mnt]);
  const fx = withFixture ? await fixture({ sandbox: 'namespace', prewarmPerRuntime: 0, dataDir: mnt }) : null;
  after(async () => {
    await fx?.stop();
    for (let i = 0; i < 50; i++) {
      if (spawnSync('umount', [mnt]).status === 0) break;
      await sleep(100);
    }
    fs.rmSync(base, { recursive: true, force: true });
  });
  return { mnt, fx };
}

// Volumes hold their whole size: a few environments of a 10 GB function would take the disk the
// server's own data is on. One that would leave the disk under its reserve gets a tmpfs instead.
describe('/tmp volumes leave the data dir\'s disk its reserve', {
  skip: (!isRoot && 'the namespace driver (root) gives /tmp a volume') || (freeGiB < 4 && `${freeGiB.toFixed(1)} GiB free on the disk of ${os.tmpdir()}: volumes need 4`),
}, async () => {
  // A small disk of its own for the data dir: 1.5 GiB, whose reserve is 512 MiB.
  const disk = await smallDisk(1536);
  const mnt = disk.mnt;
  const fx = disk.fx!;
  test('a function whose /tmp would take the disk past its reserve runs with a tmpfs /tmp, and the server says why', async () => {
    const key = fx.code({ 'app.py': PY });
    // 1024 MB needs a 1,065 MiB volume: on a disk of 1.5 GiB that leaves less than 512 MiB.
    const o = await fx.svc.execute(fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 256, ephemeralStorage: 1024 }, 'tmp-reserve'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.deepEqual(JSON.parse(o.payload.toString()).fs, ['tmpfs']);
    const free = fs.statfsSync(mnt);
    assert.ok((free.bavail * free.bsize) / 2 ** 20 >= 512, 'the reserve is left');
    const said = fx.svc.describe().warnings.join('\n');
    assert.match(said, /got a tmpfs \/tmp because their volume could not be made: a \/tmp volume of 1024 MB takes \d+ MiB of disk, and the disk of .* has \d+ MiB free, of which 512 MiB are kept for the server's own data/);
  });

});

describe('/tmp volumes made at the same time share the reserve', {
  skip: (!isRoot && 'the namespace driver (root) gives /tmp a volume') || (freeGiB < 6 && `${freeGiB.toFixed(1)} GiB free on the disk of ${os.tmpdir()}: volumes need 6`),
}, async () => {
  // 3 GiB: its reserve is 512 MiB; after the two ready volumes of 512 MB, about 1.9 GiB is free.
  const { mnt } = await smallDisk(3072, false);

  test('volumes being made count against the free space: three of 600 MB at once, two fit above the reserve, not three', async () => {
    const volumes = await EphemeralVolumes.start(path.join(mnt, 'race'), pythonExecutable(), 512);
    assert.ok(typeof volumes !== 'string', String(volumes));
    try {
      await sleep(500); // its ready volumes made
      const made = await Promise.allSettled([0, 1, 2].map(() => volumes.make(600)));
      const ok = made.filter((m) => m.status === 'fulfilled');
      assert.equal(ok.length, 2, JSON.stringify(made.map((m) => (m.status === 'rejected' ? String(m.reason) : 'made'))));
      const refused = made.find((m) => m.status === 'rejected') as PromiseRejectedResult;
      assert.match(String(refused.reason), /kept for the server's own data/);
      const free = fs.statfsSync(mnt);
      assert.ok((free.bavail * free.bsize) / 2 ** 20 >= 512, `${Math.round((free.bavail * free.bsize) / 2 ** 20)} MiB free: the reserve is left`);
      for (const m of ok) volumes.release((m as PromiseFulfilledResult<Volume>).value);
    } finally {
      await volumes.stop();
    }
  });
});
