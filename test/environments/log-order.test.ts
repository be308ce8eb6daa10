import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { SANDBOX_MODES } from '../helpers/server.js';
import { python } from '../runtimes/harness.js';
import { bashFunction, fixture, invocation, type Fixture } from './helpers.js';

/**
 * What a function writes before its result is logged between its START and END, on every warm
 * invocation: small lines, output larger than one pipe read, stdout and stderr, and output of a
 * child process. (Stratus reads the pipes in the same pass of its event loop as the result.)
 */
describe('function output lands between START and END', async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());

  const BIG = 150_000;
  const check = async (name: string, t: ReturnType<typeof fx.target>, rounds: number) => {
    for (let i = 0; i < rounds; i++) {
      const inv = invocation(JSON.stringify({ i }), { wantLogTail: false });
      const o = await fx.svc.execute(t, inv);
      assert.equal(o.status, 'ok', `${name} #${i}: ${o.payload.toString()}`);
      // END comes when the runtime asks for its next invocation: with the result (the shipped
      // runtimes), or a moment after it (the bash runtime's next curl).
      let lines: string[] = [];
      let start = -1;
      let end = -1;
      for (let w = 0; w < 50 && end < 0; w++) {
        if (w) await new Promise((r) => setTimeout(r, 20));
        lines = fx.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e.message);
        start = lines.findIndex((l) => l.startsWith(`START RequestId: ${inv.requestId}`));
        end = lines.findIndex((l) => l.startsWith(`END RequestId: ${inv.requestId}`));
      }
      assert.ok(start >= 0 && end > start, `${name} #${i}: START and END`);
      const between = lines.slice(start + 1, end).join('');
      for (const marker of [`first ${i}`, `err ${i}`, `child ${i}`, `last ${i}`]) {
        assert.ok(between.includes(marker), `${name} #${i}: "${marker}" before END (${between.length} bytes between)`);
      }
      assert.ok(between.length > BIG, `${name} #${i}: the large output is in (${between.length} bytes)`);
    }
  };

  test('node', async () => {
    const key = fx.code({
      'index.js': `const { execFileSync } = require('node:child_process');
exports.handler = async (e) => {
  console.log('first ' + e.i);
  console.error('err ' + e.i);
  process.stdout.write('x'.repeat(${BIG}) + '\\n');
  process.stdout.write(execFileSync('/bin/echo', ['child ' + e.i]));
  console.log('last ' + e.i);
  return e.i;
};`,
    });
    await check('node', fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 512, timeout: 10 }, 'order-node'), 25);
  });

  test('python', { skip: !python() && 'python3 not installed' }, async () => {
    const key = fx.code({
      'app.py': `import subprocess, sys
def handler(e, context):
    print('first %d' % e['i'])
    print('err %d' % e['i'], file=sys.stderr)
    sys.stdout.write('x' * ${BIG} + '\\n')
    sys.stdout.flush()
    subprocess.run(['/bin/echo', 'child %d' % e['i']], check=True)
    print('last %d' % e['i'])
    return e['i']
`,
    });
    await check('python', fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 512, timeout: 10 }, 'order-py'), 25);
  });

  test('bash custom runtime', async () => {
    const key = fx.code(bashFunction(`I=$(echo "$1" | sed 's/[^0-9]//g')
echo "first $I" >&2
echo "err $I" >&2
head -c ${BIG} /dev/zero | tr '\\0' 'x' >&2; echo >&2
/bin/echo "child $I" >&2
echo "last $I" >&2
echo "$I"`));
    await check('bash', fx.target(key, { runtime: 'provided.al2023', handler: 'handler', memorySize: 512, timeout: 10 }, 'order-bash'), 10);
  });
});

/**
 * A Python function's print, logging records and sys.stderr writes are logged in the order the
 * code wrote them, with timestamps that never go back, in both log formats: Lambda's runtime
 * writes them unbuffered. (Read from three pipes as they came, a loop of the three was logged
 * grouped by pipe.) A line printed without its newline is logged when its phase ends.
 */
describe('python: print, logging and sys.stderr in code order', { skip: !python() && 'python3 not installed' }, async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  const APP = `import logging, sys
print("init without a newline", end="")
def handler(e, c):
    for i in range(6):
        print("print", i)
        logging.getLogger().warning("log %d", i)
        sys.stderr.write("err %d\\n" % i)
    print("unfinished", end="")
    return 1
`;
  const expected = [...Array(6).keys()].flatMap((i) => [`print ${i}`, `log ${i}`, `err ${i}`]).concat('unfinished');

  for (const logFormat of ['Text', 'JSON'] as const) {
    test(`${logFormat} logs`, async () => {
      const key = fx.code({ 'app.py': APP });
      const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 1769, loggingConfig: { logFormat, logGroup: null } }, `py-order-${logFormat}`);
      // What a record or line says: the message of a JSON record, the text after the request id of a text one.
      const said = (m: string) => {
        if (m.startsWith('{')) return String((JSON.parse(m) as { message?: unknown }).message ?? '');
        return m.replace(/^\[WARNING\]\t\S+\t\S+\t/, '').replace(/\n$/, '');
      };
      for (let round = 0; round < 3; round++) {
        const inv = invocation('{}');
        const o = await fx.svc.execute(t, inv);
        assert.equal(o.status, 'ok', o.payload.toString());
        // The invocation's LogResult tail (the unfinished line runs into the next, END or its
        // record, as a line without its newline does in Lambda's LogResult)...
        const tail = o.logTail!.split('\n').slice(0, -1).map((l) => said(l.replace(/^unfinished(?=END |\{)/, 'unfinished\n').split('\n')[0]!))
          .filter((l) => /^(print|log|err) \d$|^unfinished$/.test(l));
        assert.deepEqual(tail, expected, `${logFormat} #${round}: LogResult\n${o.logTail}`);
        // ... and the stored events (what filter-log-events returns), between START and END.
        const events = fx.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e);
        const start = events.findIndex((e) => e.message.includes(inv.requestId) && /START|platform\.start/.test(e.message));
        const end = events.findIndex((e, i) => i > start && e.message.includes(inv.requestId) && /END|platform\.report/.test(e.message));
        const between = events.slice(start + 1, end);
        assert.deepEqual(between.map((e) => said(e.message)), expected, `${logFormat} #${round}: stored events`);
        for (let i = 1; i < between.length; i++) {
          assert.ok(between[i]!.timestamp >= between[i - 1]!.timestamp, `${logFormat} #${round}: timestamps never go back (${between.map((e) => e.timestamp)})`);
        }
      }
      const first = fx.sink.events.find((e) => e.group === t.logGroupName && e.e.message.startsWith('init without a newline'));
      assert.ok(first, 'the unfinished line of init is logged');
    });
  }
});

/**
 * A record is written in-band on the stdout socket, and a large one leaves in several pieces:
 * a print from another thread must not land between them (it became part of the record, whose
 * tail was then logged as text, and the prints inside it were lost).
 */
describe('python: prints from one thread and large records from another stay whole', { skip: !python() && 'python3 not installed' }, async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  test('every print and every record is an event of its own', async () => {
    const key = fx.code({
      'th.py': `import logging, sys, threading
def records():
    for i in range(6):
        logging.warning("REC%02d %s END%02d", i, "L" * 120000, i)
def prints():
    for i in range(1000):
        print("P%04d " % i + "p" * 200)
def handler(e, c):
    a = threading.Thread(target=records)
    b = threading.Thread(target=prints)
    a.start(); b.start(); a.join(); b.join()
    sys.stdout.buffer.write(b"bytes at the end\\n")
    return 1
`,
    });
    const t = fx.target(key, { runtime: 'python3.12', handler: 'th.handler', memorySize: 1769, timeout: 30 }, 'py-threads');
    // (Under the 1 MiB a Stratus invocation logs; without the lock, one round in two or three broke.)
    for (let round = 0; round < 5; round++) {
      const inv = invocation('{}', { wantLogTail: false });
      const o = await fx.svc.execute(t, inv);
      assert.equal(o.status, 'ok', o.payload.toString());
      const lines = (await invocationEvents(fx, t.logGroupName, inv.requestId)).slice(1, -2);
      const records = lines.filter((l) => l.startsWith('[WARNING]'));
      const prints = lines.filter((l) => l.startsWith('P'));
      assert.equal(records.length, 6, `#${round}: six records`);
      for (const r of records) assert.match(r, /\tREC(\d\d) L{120000} END\1\n$/, `#${round}: a record is whole (${r.length} chars)`);
      assert.deepEqual(prints, Array.from({ length: 1000 }, (_, i) => `P${String(i).padStart(4, '0')} ${'p'.repeat(200)}\n`), `#${round}: every print once, in order`);
      assert.equal(lines.length, 1007, `#${round}: nothing else but the last line (${lines.length} events)`);
    }
  });
});

/**
 * The runtime's logging handler writes under the frames' lock only: with a lock of its own too,
 * a thread logging held it while waiting for the frames' lock, and code that held the frames'
 * lock (a print) and then logged (a signal handler, a finalizer) waited for it: deadlock.
 */
describe('python: logging from a thread waiting to write, and from code that interrupts a print, does not deadlock', { skip: !python() && 'python3 not installed' }, async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  test('both records are logged and the invocation returns', async () => {
    const key = fx.code({
      'app.py': `import logging, sys, threading, time
log = logging.getLogger()
def handler(e, c):
    with sys.modules["__main__"]._FRAME_LOCK:  # as during a print
        t = threading.Thread(target=lambda: log.warning("from the thread"))
        t.start()
        time.sleep(0.3)  # the thread now waits to write its record
        log.warning("from the handler")  # as a signal handler that logs in the middle of the print
    t.join()
    return "done"
`,
    });
    const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 512, timeout: 5 }, 'py-deadlock');
    const inv = invocation('{}', { wantLogTail: false });
    const o = await fx.svc.execute(t, inv);
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.equal(o.payload.toString(), '"done"');
    const lines = await invocationEvents(fx, t.logGroupName, inv.requestId);
    assert.ok(lines.some((l) => l.endsWith('\tfrom the thread\n')), lines.join(''));
    assert.ok(lines.some((l) => l.endsWith('\tfrom the handler\n')), lines.join(''));
  });
});

/** The stored events of one invocation, START to REPORT in its environment's stream, once its REPORT is written. */
async function invocationEvents(fx: Fixture, group: string, id: string): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const events = fx.sink.events.filter((e) => e.group === group);
    const stream = events.find((e) => e.e.message.startsWith(`START RequestId: ${id}`))?.stream;
    const lines = events.filter((e) => e.stream === stream).map((e) => e.e.message);
    const start = lines.findIndex((l) => l.startsWith(`START RequestId: ${id}`));
    const report = lines.findIndex((l) => l.startsWith(`REPORT RequestId: ${id}`));
    if (start >= 0 && report > start) return lines.slice(start, report + 1);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no REPORT for ${id}`);
}

/**
 * Text a Python function writes without a newline leaves the runtime at once, so it is logged
 * when the runtime never ends the line itself: the invocation times out, the process is killed or
 * exits (os._exit). Lambda's runtime writes sys.stdout unbuffered and its log capture logs an
 * unfinished line when the invocation ends, times out or the runtime dies: as an event of its own,
 * before the timeout line and END. (It was kept in the runtime's memory until the invocation ended
 * normally, and lost otherwise.)
 */
describe('python: an unfinished line is logged when the invocation times out or the runtime dies', { skip: !python() && 'python3 not installed' }, async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  const APP = `import os, sys, time
def handler(e, c):
    m = e["mode"]
    if m == "sleep":
        sys.stdout.write("progress: step1...")
        time.sleep(10)
    elif m == "kill":
        print("a whole line")
        sys.stdout.write("killed mid-line")
        os.kill(os.getpid(), 9)
    elif m == "exit":
        print("before exit")
        sys.stdout.write("partial")
        sys.stderr.write("stderr partial")
        os._exit(5)
    return m
`;
  const cases = [
    { mode: 'sleep', lines: ['progress: step1...'], end: /Task timed out after 2\.00 seconds/, errorType: 'Sandbox.Timedout' },
    { mode: 'kill', lines: ['a whole line\n', 'killed mid-line'], end: /Error: Runtime exited with error: signal: killed/, errorType: 'Runtime.ExitError' },
    { mode: 'exit', lines: ['before exit\n', 'partial', 'stderr partial'], end: /Error: Runtime exited with error: exit status 5/, errorType: 'Runtime.ExitError' },
  ];
  for (const c of cases) {
    test(c.mode, async () => {
      const key = fx.code({ 'app.py': APP });
      const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 256, timeout: 2 }, `py-unfinished-${c.mode}`);
      const inv = invocation(JSON.stringify({ mode: c.mode }));
      const o = await fx.svc.execute(t, inv);
      assert.equal(o.status, 'error', o.payload.toString());
      assert.equal(o.errorType, c.errorType);
      // The LogResult tail has the text...
      for (const l of c.lines) assert.ok(o.logTail!.includes(l), `LogResult has ${JSON.stringify(l)}:\n${o.logTail}`);
      // ... and the stored events: each line an event of its own, in code order, before the
      // platform's line (timeout or exit) and END.
      const lines = await invocationEvents(fx, t.logGroupName, inv.requestId);
      const at = c.lines.map((l) => lines.indexOf(l));
      const end = lines.findIndex((l) => c.end.test(l));
      assert.ok(end > 0, `the platform's line:\n${lines.join('|')}`);
      assert.ok(at.every((i, n) => i > 0 && i < end && (n === 0 || i > at[n - 1]!)), `${JSON.stringify(c.lines)} before ${c.end}, in order:\n${lines.join('|')}`);
    });
  }

  test('init: what init writes without a newline before it dies is logged', async () => {
    const key = fx.code({ 'app.py': 'import os, sys\nsys.stdout.write("init mid-line")\nos._exit(3)\ndef handler(e, c):\n    return 1\n' });
    const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 256, timeout: 2 }, 'py-unfinished-init');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o.status, 'error', o.payload.toString());
    const events = fx.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e.message);
    assert.ok(events.includes('init mid-line'), `logged:\n${events.join('|')}`);
  });
});

/**
 * Bytes a Python function writes to sys.stdout.buffer or sys.stderr.buffer are logged with what it
 * prints, in code order, in the invocation that wrote them (as in Lambda). They sat in the
 * stream's buffer until the runtime flushed it after the result: the next invocation's log.
 */
describe('python: sys.stdout.buffer and sys.stderr.buffer', { skip: !python() && 'python3 not installed' }, async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  const APP = `import sys
n = 0
def handler(e, c):
    global n
    n += 1
    wrote = sys.stdout.buffer.write(b"bytes via buffer %d\\n" % n)
    print("print", n)
    sys.stderr.buffer.write(bytearray(b"stderr bytes %d\\n" % n))
    check = "check \\u2713 %d\\n" % n
    # a character cut in two between writes, text in between
    sys.stdout.buffer.write(check.encode()[:8])
    sys.stdout.write("")
    sys.stdout.buffer.write(memoryview(check.encode())[8:])
    sys.stdout.buffer.write(b"unfinished %d" % n)
    try:
        sys.stdout.buffer.write("text")
    except TypeError as e:
        refused = str(e)
    return [wrote, refused]
`;
  test('logged in the invocation that wrote them, in code order', async () => {
    const key = fx.code({ 'app.py': APP });
    const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 256 }, 'py-buffer');
    for (const n of [1, 2, 3]) {
      const inv = invocation('{}');
      const o = await fx.svc.execute(t, inv);
      assert.equal(o.status, 'ok', o.payload.toString());
      assert.deepEqual(JSON.parse(o.payload.toString()), [`bytes via buffer ${n}\n`.length, "a bytes-like object is required, not 'str'"]);
      const expected = [`bytes via buffer ${n}\n`, `print ${n}\n`, `stderr bytes ${n}\n`, `check \u2713 ${n}\n`, `unfinished ${n}`];
      const tail = o.logTail!;
      const at = expected.map((l) => tail.indexOf(l));
      assert.ok(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!)), `#${n}: LogResult in code order:\n${tail}`);
      const lines = await invocationEvents(fx, t.logGroupName, inv.requestId);
      assert.deepEqual(lines.slice(1, -2), expected, `#${n}: stored events`);
    }
  });
});

/**
 * What a Python function writes to file descriptors 1 and 2 itself (os.write, os.system, a child
 * process, a C library) is logged in code order with what it prints, logs and writes to
 * sys.stderr. Lambda's runtime writes sys.stdout unbuffered to fd 1, so a print, an os.write and
 * a child's output share one pipe and keep their order there. (print went on the log descriptor
 * and the rest down the pipes, which the platform read in no set order: "step 1, 2, 3, 5, 4".)
 * Print stays plain text in the JSON format, each line an event of its own, a line begun by
 * print and ended by os.write one line.
 */
for (const mode of SANDBOX_MODES) {
  describe(`python: os.write, child processes, print and logging in code order (${mode.label})`, { skip: !python() && 'python3 not installed' }, async () => {
    const fx = await fixture({ prewarmPerRuntime: 0, ...mode.config });
    after(() => fx.stop());
    const APP = `import logging, os, subprocess, sys
def handler(e, c):
    n = e["n"]
    print("step 1", n)
    subprocess.run(["/bin/echo", "step 2 %d" % n], check=True)
    print("step 3", n)
    os.write(1, b"step 4 %d\\n" % n)
    print("step 5 %d\\nstep 6" % n, n)
    logging.getLogger().warning("step 7 %d", n)
    os.write(2, b"step 8 %d\\nstep 9 %d\\n" % (n, n))
    sys.stderr.write("step 10 %d\\n" % n)
    os.system("echo step 11 %d; echo step 12 %d >&2" % (n, n))
    print("step 13", n, end="")
    os.write(1, b"\\n")
    subprocess.run(["/bin/sh", "-c", "echo step 14 %d >&2" % n], check=True)
    print("step 15", n)
    return n
`;
    for (const logFormat of ['Text', 'JSON'] as const) {
      test(`${logFormat} logs: LogResult and stored events`, async () => {
        const key = fx.code({ 'app.py': APP });
        const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 512, loggingConfig: { logFormat, logGroup: null } }, `py-raw-order-${logFormat}`);
        // A line's step: a JSON record's message (the logging record in the JSON format), or the text.
        const step = (m: string) => {
          const text = m.startsWith('{') ? String((JSON.parse(m) as { message?: unknown }).message ?? '') : m;
          return /step (\d+) \d+/.exec(text)?.[1];
        };
        const expected = [...Array(15).keys()].map((i) => String(i + 1));
        for (let n = 0; n < 10; n++) {
          const inv = invocation(JSON.stringify({ n }));
          const o = await fx.svc.execute(t, inv);
          assert.equal(o.status, 'ok', o.payload.toString());
          const tail = o.logTail!.split('\n').map(step).filter((s) => s !== undefined);
          assert.deepEqual(tail, expected, `${logFormat} #${n}: LogResult\n${o.logTail}`);
          let lines: string[] = [];
          for (let w = 0; w < 100; w++) {
            const all = fx.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e.message);
            const start = all.findIndex((l) => l.includes(inv.requestId) && /^START|platform\.start/.test(l));
            const report = all.findIndex((l, i) => i > start && l.includes(inv.requestId) && /^REPORT|platform\.report/.test(l));
            if (start >= 0 && report > start) { lines = all.slice(start, report + 1); break; }
            await new Promise((r) => setTimeout(r, 50));
          }
          // Each line an event of its own, in code order; only the logging record is JSON.
          const steps = lines.filter((l) => step(l) !== undefined);
          assert.deepEqual(steps.map(step), expected, `${logFormat} #${n}: stored events\n${lines.join('|')}`);
          assert.deepEqual(steps.filter((l) => l.startsWith('{')).map(step), logFormat === 'JSON' ? ['7'] : [], steps.join('|'));
          assert.ok(steps.every((l) => l.startsWith('{') || /^(\[WARNING\]\t\S+\t\S+\t)?step \d+ \d+\n$/.test(l)), steps.join('|'));
        }
        const events = fx.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e);
        for (let i = 1; i < events.length; i++) assert.ok(events[i]!.timestamp >= events[i - 1]!.timestamp, `${logFormat}: timestamps never go back`);
      });
    }
  });
}
