import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { MAX_LINE_BYTES } from '../../src/environments/log-writer.js';
import { python } from '../runtimes/harness.js';
import { bashFunction, fixture, invocation, isRoot, sleep, type Fixture } from './helpers.js';

/** LoggingConfig: JSON application records filtered by level, and JSON platform records. */
describe('LoggingConfig', async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  const code = fx.code({
    'index.js': `exports.handler = async () => {
  console.debug('dbg'); console.log('info line'); console.warn('warn line'); console.error('error line');
  return { format: process.env.AWS_LAMBDA_LOG_FORMAT ?? null, level: process.env.AWS_LAMBDA_LOG_LEVEL ?? null };
};`,
  });
  const messages = (group: string) => fx.sink.events.filter((e) => e.group === group).map((e) => e.e.message);

  test('Text (the default): text lines, no log variables', async () => {
    const t = fx.target(code, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256 }, 'text-logs');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.deepEqual(JSON.parse(o.payload.toString()), { format: null, level: null });
    const lines = messages('/aws/lambda/text-logs');
    assert.match(lines[0]!, /^INIT_START Runtime Version: nodejs:20\.v\d+\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}\n$/);
    assert.ok(lines.some((l) => l.startsWith('START RequestId: ')) && lines.some((l) => /\tDEBUG\tdbg\n$/.test(l)));
  });

  test('a log group of the function\'s choosing: its streams name the function, as Lambda\'s do', async () => {
    const t = { ...fx.target(code, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256, loggingConfig: { logFormat: 'Text', logGroup: '/custom/shared' } }, 'in-shared'), logGroupName: '/custom/shared' };
    await fx.svc.execute(t, invocation('{}'));
    const streams = new Set(fx.sink.events.filter((e) => e.group === '/custom/shared').map((e) => e.stream));
    assert.equal(streams.size, 1);
    assert.match([...streams][0]!, /^\d{4}\/\d{2}\/\d{2}\/in-shared\[\$LATEST\][0-9a-f]{32}$/);
    const own = new Set(fx.sink.events.filter((e) => e.group === '/aws/lambda/text-logs').map((e) => e.stream));
    for (const s of own) assert.match(s, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
  });

  test('JSON, application WARN, system INFO: JSON records, debug and info dropped, platform records', async () => {
    const t = fx.target(code, {
      runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256,
      loggingConfig: { logFormat: 'JSON', logGroup: null, applicationLogLevel: 'WARN', systemLogLevel: 'INFO' },
    }, 'json-logs');
    const inv = invocation('{}');
    const o = await fx.svc.execute(t, inv);
    assert.deepEqual(JSON.parse(o.payload.toString()), { format: 'JSON', level: 'WARN' });
    const records = messages('/aws/lambda/json-logs').map((l) => JSON.parse(l));
    const app = records.filter((r) => r.level);
    assert.deepEqual(app.map((r) => [r.level, r.message, r.requestId]), [['WARN', 'warn line', inv.requestId], ['ERROR', 'error line', inv.requestId]]);
    // A JSON record is the event's whole message: Lambda's runtime frames it without a newline.
    assert.ok(messages('/aws/lambda/json-logs').filter((l) => l.includes('"warn line"')).every((l) => l.endsWith('}')));
    // The LogResult tail, read line by line as tools read it: every line one JSON record, the
    // application's too (they had run together: "...}{...}{\"time\"...platform.report...}").
    const tail = o.logTail!.split('\n').filter((l) => l !== '');
    // A cold start's: the init phase's records first (Lambda's LogResult of a cold start has them).
    assert.deepEqual(tail.map((l) => { const r = JSON.parse(l); return r.type ?? r.level; }), ['platform.initStart', 'platform.start', 'WARN', 'ERROR', 'platform.report'], o.logTail);
    const platform = records.filter((r) => r.type);
    // What CloudWatch gets at INFO: no platform.runtimeDone (a DEBUG record, below).
    assert.deepEqual(platform.map((r) => r.type), ['platform.initStart', 'platform.start', 'platform.report']);
    for (const r of platform) assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const init = platform[0].record;
    assert.deepEqual(Object.keys(init), ['initializationType', 'phase', 'runtimeVersion', 'runtimeVersionArn', 'functionName', 'functionVersion', 'instanceId', 'instanceMaxMemory']);
    assert.deepEqual([init.initializationType, init.phase, init.functionName, init.functionVersion, init.instanceMaxMemory], ['on-demand', 'init', 'json-logs', '$LATEST', 256 * 1024 * 1024]);
    assert.match(init.instanceId, /^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);
    assert.deepEqual(platform[1].record, { requestId: inv.requestId, functionArn: t.functionArn, version: '$LATEST' });
    const report = platform[2].record;
    assert.equal(report.requestId, inv.requestId);
    assert.equal(report.status, 'success');
    assert.equal(report.metrics.memorySizeMB, 256);
    assert.equal(report.metrics.billedDurationMs, o.billedDurationMs);
    assert.ok(report.metrics.initDurationMs > 0 && report.metrics.maxMemoryUsedMB > 0);
  });

  test('JSON, system DEBUG: the init\'s platform.initRuntimeDone and platform.initReport, platform.runtimeDone with its spans', async () => {
    const t = fx.target(code, {
      runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256,
      loggingConfig: { logFormat: 'JSON', logGroup: null, applicationLogLevel: 'ERROR', systemLogLevel: 'DEBUG' },
    }, 'json-debug');
    const inv = invocation('{}');
    const o = await fx.svc.execute(t, inv);
    const platform = messages('/aws/lambda/json-debug').map((l) => JSON.parse(l)).filter((r) => r.type);
    // As a captured Lambda LogResult at DEBUG shows them.
    const types = ['platform.initStart', 'platform.initRuntimeDone', 'platform.initReport', 'platform.start', 'platform.runtimeDone', 'platform.report'];
    assert.deepEqual(platform.map((r) => r.type), types);
    assert.deepEqual(platform[1].record, { initializationType: 'on-demand', phase: 'init', status: 'success' });
    const initReport = platform[2].record;
    assert.deepEqual(Object.keys(initReport), ['initializationType', 'phase', 'status', 'metrics']);
    assert.deepEqual([initReport.initializationType, initReport.phase, initReport.status], ['on-demand', 'init', 'success']);
    // The same init the REPORT's Init Duration counts.
    assert.equal(initReport.metrics.durationMs, platform[5].record.metrics.initDurationMs);
    const done = platform[4].record;
    assert.deepEqual(Object.keys(done), ['requestId', 'status', 'spans', 'metrics']);
    assert.equal(done.requestId, inv.requestId);
    assert.equal(done.status, 'success');
    assertSpans(done, platform[3].time);
    // The cold start's tail holds them all, init records first.
    assert.deepEqual(o.logTail!.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)).filter((r) => r.type).map((r) => r.type), types, o.logTail);

    // Warm: no init records, in the stream or the tail; spans again.
    const warm = await fx.svc.execute(t, invocation('{}'));
    assert.equal(warm.coldStart, false);
    const again = warm.logTail!.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)).filter((r) => r.type);
    assert.deepEqual(again.map((r) => r.type), ['platform.start', 'platform.runtimeDone', 'platform.report'], warm.logTail);
    assertSpans(again[1].record, again[0].time);
    assert.equal(messages('/aws/lambda/json-debug').filter((l) => l.includes('"platform.init')).length, 3);
  });

  /** runtimeDone's spans: the runtime's response latency and duration, then its overhead until its next /next. */
  function assertSpans(done: { spans: { name: string; start: string; durationMs: number }[]; metrics: { durationMs: number } }, startTime: string) {
    assert.deepEqual(done.spans.map((s) => s.name), ['responseLatency', 'responseDuration', 'runtimeOverhead']);
    for (const s of done.spans) {
      assert.deepEqual(Object.keys(s), ['name', 'start', 'durationMs']);
      assert.match(s.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(typeof s.durationMs === 'number' && s.durationMs >= 0, JSON.stringify(s));
    }
    const [latency, duration, overhead] = done.spans;
    const at = (iso: string) => Date.parse(iso);
    // One after the other, from the invocation's start (millisecond timestamps: 1 ms of slack).
    assert.ok(at(latency!.start) >= at(startTime) - 1, JSON.stringify(done.spans));
    assert.ok(at(duration!.start) >= at(latency!.start) && at(overhead!.start) >= at(duration!.start), JSON.stringify(done.spans));
    assert.ok(Math.abs(at(duration!.start) - (at(latency!.start) + latency!.durationMs)) <= 1.5, JSON.stringify(done.spans));
    // Within the runtime's part of the invocation.
    assert.ok(latency!.durationMs + duration!.durationMs + overhead!.durationMs <= done.metrics.durationMs + 0.01, JSON.stringify(done));
  }

  test('JSON, system INFO: no init records after a successful init, no runtimeDone', async () => {
    const t = fx.target(code, {
      runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256,
      loggingConfig: { logFormat: 'JSON', logGroup: null, applicationLogLevel: 'ERROR', systemLogLevel: 'INFO' },
    }, 'json-info');
    const o = await fx.svc.execute(t, invocation('{}'));
    const types = messages('/aws/lambda/json-info').map((l) => JSON.parse(l)).filter((r) => r.type).map((r) => r.type);
    assert.deepEqual(types, ['platform.initStart', 'platform.start', 'platform.report']);
    assert.deepEqual(o.logTail!.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)).filter((r) => r.type).map((r) => r.type), types, o.logTail);
  });

  test('JSON, system DEBUG: a failed invocation\'s platform.runtimeDone names its error type', async () => {
    const key = fx.code({ 'index.js': 'exports.handler = async () => { process.exit(2); };' });
    const t = fx.target(key, {
      runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256,
      loggingConfig: { logFormat: 'JSON', logGroup: null, applicationLogLevel: 'ERROR', systemLogLevel: 'DEBUG' },
    }, 'json-debug-exit');
    await fx.svc.execute(t, invocation('{}'));
    const done = messages('/aws/lambda/json-debug-exit').map((l) => JSON.parse(l)).find((r) => r.type === 'platform.runtimeDone');
    assert.equal(done.record.status, 'error');
    assert.equal(done.record.errorType, 'Runtime.ExitError');
  });

  test('JSON, system WARN: no platform records', async () => {
    const t = fx.target(code, {
      runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256,
      loggingConfig: { logFormat: 'JSON', logGroup: null, applicationLogLevel: 'ERROR', systemLogLevel: 'WARN' },
    }, 'json-quiet');
    await fx.svc.execute(t, invocation('{}'));
    const records = messages('/aws/lambda/json-quiet').map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.type ?? r.level), ['ERROR']);
  });

  test('JSON, application WARN: stdout and stderr lines are filtered by their JSON "level" with a valid RFC 3339 "timestamp", INFO without one', async () => {
    const key = fx.code({
      'index.js': `const T = '2024-11-02T16:51:31.587199Z';
exports.handler = async () => {
  process.stdout.write('plain stdout\\n');
  process.stderr.write('plain stderr\\n');
  process.stdout.write(JSON.stringify({ level: 'debug', msg: 'json debug', timestamp: T }) + '\\n');
  process.stdout.write(JSON.stringify({ level: 'Warn', msg: 'json warn', timestamp: T }) + '\\n');
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'json error', timestamp: T }) + '\\n');
  process.stdout.write(JSON.stringify({ level: 'error', msg: 'no timestamp' }) + '\\n');
  process.stdout.write(JSON.stringify({ level: 'error', msg: 'no zone', timestamp: '2026-12-07T10:06:21' }) + '\\n');
  process.stdout.write(JSON.stringify({ level: 'loud', msg: 'json bad level', timestamp: T }) + '\\n');
  process.stdout.write('{not json\\n');
  process.stdout.write(JSON.stringify({ level: 'fatal', msg: 'unterminated', timestamp: T }));
  return 1;
};`,
    });
    const lines = async (name: string, loggingConfig: { logFormat: 'Text' | 'JSON'; logGroup: null; applicationLogLevel: string; systemLogLevel: string } | undefined) => {
      const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256, ...(loggingConfig ? { loggingConfig } : {}) }, name);
      await fx.svc.execute(t, invocation('{}'));
      return messages(`/aws/lambda/${name}`).filter((l) => !/^(\{"time"|INIT_START|START|END|REPORT)/.test(l)).map((l) => l.trim());
    };
    // Sorted: stdout and stderr are two pipes, read in whatever order they become readable.
    const T = '"timestamp":"2024-11-02T16:51:31.587199Z"';
    assert.deepEqual((await lines('stdout-warn', { logFormat: 'JSON', logGroup: null, applicationLogLevel: 'WARN', systemLogLevel: 'INFO' })).sort(), [
      `{"level":"Warn","msg":"json warn",${T}}`, `{"level":"error","msg":"json error",${T}}`, `{"level":"fatal","msg":"unterminated",${T}}`,
    ].sort());
    // Text format: no filtering at all.
    assert.equal((await lines('stdout-text', undefined)).length, 10);

    // Python: what it prints goes by level too; its logging records keep theirs (WARNING is WARN).
    const py = fx.code({
      'app.py': `import logging, sys
T = "2024-11-02T16:51:31.587199Z"
def handler(e, c):
    print("plain print")
    print('{"level": "debug", "msg": "json debug", "timestamp": "%s"}' % T)
    print('{"level": "ERROR", "msg": "json error", "timestamp": "%s"}' % T)
    print('{"level": "ERROR", "msg": "no timestamp"}')
    sys.stderr.write("plain stderr\\n")
    logging.getLogger().info("info record")
    logging.getLogger().warning("warning record")
    return 1
`,
    });
    const t = fx.target(py, {
      runtime: 'python3.12', handler: 'app.handler', memorySize: 256,
      loggingConfig: { logFormat: 'JSON', logGroup: null, applicationLogLevel: 'WARN', systemLogLevel: 'WARN' },
    }, 'py-stdout-warn');
    await fx.svc.execute(t, invocation('{}'));
    const got = messages('/aws/lambda/py-stdout-warn').map((l) => l.trim());
    assert.equal(got.length, 2, got.join('\n'));
    assert.equal(got[0], '{"level": "ERROR", "msg": "json error", "timestamp": "2024-11-02T16:51:31.587199Z"}');
    assert.deepEqual([JSON.parse(got[1]!).level, JSON.parse(got[1]!).message], ['WARNING', 'warning record']);
  });

  test('JSON: a printed line with a "level" and no valid timestamp is INFO, logged as printed; the runtime\'s error record (no zone in its timestamp) keeps ERROR', { skip: !python() && 'python3 not installed' }, async () => {
    const py = fx.code({
      'app.py': `import logging
def handler(e, c):
    print('{"level": "debug", "msg": "x"}')
    print('{"level": "debug", "msg": "dropped", "timestamp": "2024-11-02T16:51:31.587199Z"}')
    print('{"level": "error", "msg": "printed error", "timestamp": "2026-12-07T10:06:21"}')
    logging.getLogger().error("error record")
    if e.get("fail"):
        raise ValueError("boom")
    return 1
`,
    });
    const run = async (name: string, level: string, event: string) => {
      const t = fx.target(py, {
        runtime: 'python3.12', handler: 'app.handler', memorySize: 256,
        loggingConfig: { logFormat: 'JSON', logGroup: null, applicationLogLevel: level, systemLogLevel: 'WARN' },
      }, name);
      const o = await fx.svc.execute(t, invocation(event));
      return { o, got: messages(`/aws/lambda/${name}`) };
    };
    // ApplicationLogLevel INFO: the line without a timestamp is INFO (kept, as printed, with the
    // time it was logged at); with a valid one it is DEBUG (dropped).
    const info = await run('py-json-info', 'INFO', '{}');
    assert.deepEqual(info.got.slice(0, 2), ['{"level": "debug", "msg": "x"}\n', '{"level": "error", "msg": "printed error", "timestamp": "2026-12-07T10:06:21"}\n']);
    assert.equal(JSON.parse(info.got[2]!).message, 'error record');
    assert.equal(info.got.length, 3, info.got.join('|'));
    assert.ok(info.got.every((l) => !l.includes('dropped')));
    // ApplicationLogLevel ERROR: the printed lines are INFO (dropped); the records stay.
    const error = await run('py-json-error', 'ERROR', '{"fail": true}');
    assert.equal(error.o.status, 'error');
    const records = error.got.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(records.map((r) => [r.level, r.message ?? r.errorMessage]), [['ERROR', 'error record'], ['ERROR', 'boom']]);
    assert.match(String(records[1]!.timestamp), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    assert.equal(records[1]!.errorType, 'ValueError');
  });
});

describe('the sandbox user', async () => {
  const fx = await fixture({ prewarmPerRuntime: 1 });
  after(() => fx.stop());

  test('has a passwd entry: os.homedir() and os.userInfo() answer, HOME stays unset (as in Lambda)', { skip: !isRoot && 'namespace driver only' }, async () => {
    const key = fx.code({
      'index.js': `const os = require('node:os');
exports.handler = async () => ({ home: os.homedir(), user: os.userInfo().username, uid: os.userInfo().uid, HOME: process.env.HOME ?? null });`,
    });
    for (const name of ['first', 'second']) { // a pooled runtime, then whatever the pool has next
      const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256 }, `user-${name}`);
      const o = await fx.svc.execute(t, invocation('{}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      const r = JSON.parse(o.payload.toString());
      assert.equal(r.user, `sbx_user${r.uid}`);
      assert.equal(r.home, `/home/sbx_user${r.uid}`);
      assert.equal(r.HOME, null);
    }
  });
});

describe('log records', async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  const messages = (group: string) => fx.sink.events.filter((e) => e.group === group).map((e) => e.e.message);

  test('node: a console record is one event with its newlines; raw stdout stays apart', async () => {
    const key = fx.code({
      'index.js': `exports.handler = async () => {
  console.log('line1\\nline2');
  console.log(JSON.stringify({ a: 1, b: [2] }, null, 2));
  process.stdout.write('partial');
  console.error(new Error('boom'));
  process.stdout.write(' raw\\n');
  return 'ok';
};`,
    });
    const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256 }, 'records-node');
    const inv = invocation('{}');
    const o = await fx.svc.execute(t, inv);
    assert.equal(o.status, 'ok', o.payload.toString());
    const lines = messages('/aws/lambda/records-node');
    assert.ok(lines.some((l) => new RegExp(`^\\S+Z\\t${inv.requestId}\\tINFO\\tline1\\nline2\\n$`).test(l)), lines.join('|'));
    assert.ok(lines.some((l) => l.endsWith('\tINFO\t{\n  "a": 1,\n  "b": [\n    2\n  ]\n}\n')), lines.join('|'));
    const err = lines.find((l) => l.includes('\tERROR\t'));
    assert.match(err!, /\tERROR\tError: boom\n    at /, 'the stack in the same event');
    assert.ok(lines.includes('partial raw\n'), 'raw writes are lines of stdout, not glued to a record');
    assert.ok(!lines.some((l) => l.includes('\r')));
    assert.match(o.logTail!, /line1\nline2/);
  });

  test('python: a logging record (with its traceback) is one event; print stays apart', async () => {
    const key = fx.code({
      'app.py': `import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)
def handler(event, context):
    try:
        1 / 0
    except ZeroDivisionError:
        logger.exception("caught it")
    print("print a")
    logger.warning("multi\\nline")
    return "ok"
`,
    });
    const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 256 }, 'records-py');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    const lines = messages('/aws/lambda/records-py');
    const exc = lines.find((l) => l.startsWith('[ERROR]'));
    assert.match(exc!, /^\[ERROR\]\t\S+Z\t\S+\tcaught it\nTraceback \(most recent call last\):\n[\s\S]*ZeroDivisionError: division by zero$/, 'as the logging formatter ends it: the traceback, no newline after');
    assert.ok(lines.includes('print a\n'), lines.join('|'));
    assert.ok(lines.some((l) => /^\[WARNING\]\t\S+Z\t\S+\tmulti\nline\n$/.test(l)), lines.join('|'));
  });
});

/** `actual` is `expected` (long strings: a mismatch names where, not all of them). */
function sameText(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  assert.fail(`${what}: ${actual.length} characters for ${expected.length}, different from ${i}: ${JSON.stringify(actual.slice(i, i + 40))} for ${JSON.stringify(expected.slice(i, i + 40))}`);
}

/**
 * The events an invocation's function wrote, in order: those between its START and END (or
 * platform.start and platform.report).
 */
async function written(fx: Fixture, group: string, requestId: string): Promise<string[]> {
  for (let w = 0; ; w++) {
    const lines = fx.sink.events.filter((e) => e.group === group).map((e) => e.e.message);
    const start = lines.findIndex((l) => l.includes(requestId) && /^START|platform\.start/.test(l));
    const end = lines.findIndex((l, i) => i > start && l.includes(requestId) && /^END|platform\.report/.test(l));
    if (start >= 0 && end > start) return lines.slice(start + 1, end);
    assert.ok(w < 100, `START and END of ${requestId} in ${group}`);
    await sleep(20);
  }
}

/** Events of at most one CloudWatch event's size each, none with a character cut in two. */
function assertEventSized(events: string[]): void {
  for (const e of events) {
    assert.ok(Buffer.byteLength(e) <= MAX_LINE_BYTES, `an event of ${Buffer.byteLength(e)} bytes`);
    assert.ok(!e.includes('\ufffd'), 'a character cut in two');
  }
}

describe('log records longer than one event: split into events in order, nothing lost', async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  const LONG = 300_000;
  // Three bytes a character: some cut at 256 KB falls inside one, whatever the record's prefix.
  const wide = ['a', 'ab'].map((pad) => pad + '\u2713'.repeat(100_000));

  test('node: console.log of 300,000 characters (text) and console.error of as many (JSON at WARN)', async () => {
    const key = fx.code({
      'index.js': `exports.handler = async (e) => {
  if (e.json) { console.info('dropped'); console.error('y'.repeat(${LONG})); return 'ok'; }
  console.log('y'.repeat(${LONG}));
  for (const w of ${JSON.stringify(wide)}) console.log(w);
  return 'ok';
};`,
    });
    const text = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256 }, 'long-node');
    const inv = invocation('{}', { wantLogTail: false });
    assert.equal((await fx.svc.execute(text, inv)).status, 'ok');
    const events = await written(fx, '/aws/lambda/long-node', inv.requestId);
    assert.ok(events.length >= 5, `${events.length} events`);
    assertEventSized(events);
    const records = events.join('').split('\n');
    assert.equal(records.pop(), '', 'each record ends with its newline');
    const prefix = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+Z\\t${inv.requestId}\\tINFO\\t`);
    assert.ok(records.every((r) => prefix.test(r)), 'three whole records');
    sameText(records.map((r) => r.replace(prefix, '')).join('|'), ['y'.repeat(LONG), ...wide].join('|'), 'the messages');

    // The JSON format at WARN: the long ERROR record is logged, in pieces, though no piece is JSON.
    const json = fx.target(key, {
      runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256,
      loggingConfig: { logFormat: 'JSON', logGroup: null, applicationLogLevel: 'WARN', systemLogLevel: 'INFO' },
    }, 'long-node-json');
    const inv2 = invocation('{"json":true}', { wantLogTail: false });
    assert.equal((await fx.svc.execute(json, inv2)).status, 'ok');
    const pieces = await written(fx, '/aws/lambda/long-node-json', inv2.requestId);
    assert.equal(pieces.length, 2);
    assertEventSized(pieces);
    const record = JSON.parse(pieces.join(''));
    assert.deepEqual([record.level, record.requestId], ['ERROR', inv2.requestId]);
    sameText(record.message, 'y'.repeat(LONG), 'the message');
  });

  test('python: a logging record, a print and an uncaught error of 300,000 characters', { skip: !python() && 'python3 not installed' }, async () => {
    const key = fx.code({
      'app.py': `import logging
def handler(event, context):
    if event["mode"] == "log":
        logging.warning("y" * ${LONG})
        for w in ${JSON.stringify(wide)}:
            logging.warning(w)
    elif event["mode"] == "print":
        print("y" * ${LONG})
    else:
        raise ValueError("y" * ${LONG})
    return "ok"
`,
    });
    const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 256 }, 'long-py');
    const run = async (mode: string) => {
      const inv = invocation(JSON.stringify({ mode }), { wantLogTail: false });
      const o = await fx.svc.execute(t, inv);
      return { o, inv, events: await written(fx, '/aws/lambda/long-py', inv.requestId) };
    };

    const log = await run('log');
    assert.equal(log.o.status, 'ok', log.o.payload.toString());
    assert.ok(log.events.length >= 5, `${log.events.length} events`);
    assertEventSized(log.events);
    const records = log.events.join('').split('\n');
    assert.equal(records.pop(), '', 'each record ends with its newline');
    const prefix = new RegExp(`^\\[WARNING\\]\\t\\S+Z\\t${log.inv.requestId}\\t`);
    assert.ok(records.every((r) => prefix.test(r)), 'three whole records');
    sameText(records.map((r) => r.replace(prefix, '')).join('|'), ['y'.repeat(LONG), ...wide].join('|'), 'the messages');

    // What is printed is lines as on a pipe: a long one is split, each piece a line of its own.
    const printed = await run('print');
    assert.equal(printed.o.status, 'ok', printed.o.payload.toString());
    assert.ok(printed.events.length >= 2 && printed.events.every((e) => e.endsWith('\n')), `${printed.events.length} events`);
    sameText(printed.events.map((e) => e.slice(0, -1)).join(''), 'y'.repeat(LONG), 'the printed line');

    const raised = await run('raise');
    assert.equal(raised.o.status, 'error');
    assert.ok(raised.events.length >= 2, `${raised.events.length} events`);
    assertEventSized(raised.events);
    const head = `[ERROR] ValueError: ${'y'.repeat(LONG)}\nTraceback (most recent call last):`;
    sameText(raised.events.join('').slice(0, head.length), head, 'the error record');
  });
});

describe('JSON system logs when things go wrong', async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  const json = { logFormat: 'JSON' as const, logGroup: null, applicationLogLevel: 'INFO', systemLogLevel: 'INFO' };
  const records = (group: string) => fx.sink.events.filter((e) => e.group === group).map((e) => JSON.parse(e.e.message));

  test('a timeout: every event is JSON; the report says timeout', async () => {
    const key = fx.code({ 'index.js': 'exports.handler = async () => { await new Promise((r) => setTimeout(r, 5000)); };' });
    const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256, timeout: 1, loggingConfig: json }, 'json-timeout');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o.errorType, 'Sandbox.Timedout');
    const report = records('/aws/lambda/json-timeout').find((r) => r.type === 'platform.report');
    assert.equal(report.record.status, 'timeout');
    const m = report.record.metrics;
    // The duration of a timeout is the timeout, billed with the Init Duration added (the record's durations are rounded to 0.01 ms).
    assert.equal(m.durationMs, 1000);
    assert.ok(Math.abs(m.billedDurationMs - Math.ceil(1000 + m.initDurationMs)) <= 1, JSON.stringify(m));
  });

  test('an init failure: platform.initReport, every event JSON', async () => {
    const key = fx.code({ 'index.js': 'require("./missing");' });
    const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256, loggingConfig: json }, 'json-init');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o.errorType, 'Runtime.ImportModuleError');
    // The on-demand init and its suppressed retry within the invocation, then the invocation's records.
    const platform = records('/aws/lambda/json-init').filter((r) => r.type);
    assert.deepEqual(platform.map((r) => r.type), [
      'platform.initStart', 'platform.initReport', 'platform.initReport', 'platform.start', 'platform.report',
    ]);
    const [first, second] = platform.filter((r) => r.type === 'platform.initReport');
    for (const [r, phase] of [[first, 'init'], [second, 'invoke']] as const) {
      assert.equal(r.record.phase, phase);
      assert.equal(r.record.status, 'error');
      assert.equal(r.record.errorType, 'Runtime.ImportModuleError');
      assert.ok(r.record.metrics.durationMs > 0);
    }
    const report = platform.at(-1).record;
    assert.equal(report.status, 'error');
    assert.equal(report.errorType, 'Runtime.ImportModuleError');
    assert.equal(report.metrics.initDurationMs, undefined);
    assert.ok(report.metrics.maxMemoryUsedMB > 0, JSON.stringify(report));
  });

  test('an init failure at system DEBUG: platform.initRuntimeDone with its error before each platform.initReport', async () => {
    const key = fx.code({ 'index.js': 'require("./missing");' });
    const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256, loggingConfig: { ...json, systemLogLevel: 'DEBUG' } }, 'json-init-debug');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o.errorType, 'Runtime.ImportModuleError');
    const platform = records('/aws/lambda/json-init-debug').filter((r) => r.type);
    assert.deepEqual(platform.map((r) => r.type), [
      'platform.initStart', 'platform.initRuntimeDone', 'platform.initReport', 'platform.initRuntimeDone', 'platform.initReport',
      'platform.start', 'platform.runtimeDone', 'platform.report',
    ]);
    for (const [i, phase] of [[1, 'init'], [3, 'invoke']] as const) {
      assert.deepEqual(platform[i].record, { initializationType: 'on-demand', phase, status: 'error', errorType: 'Runtime.ImportModuleError' });
      assert.equal(platform[i + 1].record.status, 'error');
    }
    // No response: no spans.
    assert.equal(platform[6].record.spans, undefined);
  });

  test('a Node.js init that throws runs twice, as Lambda retries a failed init within the invocation', async () => {
    const key = fx.code({ 'index.js': 'console.log("loading"); throw new TypeError("boom at top");' });
    const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256 }, 'text-init');
    const inv = invocation('{}');
    const o = await fx.svc.execute(t, inv);
    assert.equal(o.status, 'error');
    // The payload is the runtime's; the platform's Error Type is Runtime.Unknown: Lambda's Runtime
    // API keeps only Runtime.Xxx / Function.Xxx names from Lambda-Runtime-Function-Error-Type.
    assert.equal(o.errorType, 'Runtime.Unknown');
    assert.equal(JSON.parse(o.payload.toString()).errorType, 'TypeError');
    assert.equal(JSON.parse(o.payload.toString()).errorMessage, 'boom at top');
    const lines = fx.sink.events.filter((e) => e.group === '/aws/lambda/text-init').map((e) => e.e.message);
    const kinds = lines.map((l) => /^(INIT_START|INIT_REPORT|START|END|REPORT)\b/.exec(l)?.[1] ?? (/\tINFO\tloading\n$/.test(l) ? 'loading' : /\tERROR\tUncaught Exception/.test(l) ? 'uncaught' : l));
    assert.deepEqual(kinds, ['INIT_START', 'loading', 'uncaught', 'INIT_REPORT', 'loading', 'uncaught', 'INIT_REPORT', 'START', 'END', 'REPORT']);
    assert.match(lines[3]!, /^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Runtime.Unknown\n$/);
    assert.match(lines[6]!, /^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: invoke\tStatus: error\tError Type: Runtime.Unknown\n$/);
    assert.match(lines[9]!, new RegExp(`^REPORT RequestId: ${inv.requestId}\tDuration: [\\d.]+ ms\tBilled Duration: \\d+ ms\tMemory Size: 256 MB\tMax Memory Used: [1-9]\\d* MB\tStatus: error\tError Type: Runtime.Unknown\t\n$`));
    // The same lines, in order, are the invocation's log tail.
    assert.equal(o.logTail, lines.join(''));
  });
});

/**
 * LogType Tail: the last 4 KB of the invocation's log, which for the invocation that ran its
 * environment's on-demand init (a cold start) begins with the init phase's lines, as Lambda's does.
 */
describe('a cold start\'s log tail holds the init phase', async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  const pooled = await fixture({ prewarmPerRuntime: 1 });
  after(() => Promise.all([fx.stop(), pooled.stop()]));
  const INIT = `console.log('init output');
exports.handler = async () => { console.log('handled'); return 1; };`;

  for (const usePool of [false, true]) {
    const name = usePool ? 'a pooled runtime given the function at the cold start' : 'a runtime started for the function';
    test(`node, ${name}: INIT_START and the init's output, then the invocation; not when warm`, async () => {
      const x = usePool ? pooled : fx;
      for (let i = 0; usePool && i < 150 && x.svc.stats().prewarm.node.ready < 1; i++) await sleep(20);
      const hits = x.svc.stats().prewarm.node.hits;
      const t = x.target(x.code({ 'index.js': INIT }), { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 128 }, usePool ? 'tail-pooled' : 'tail-node');
      const inv = invocation('{}');
      const cold = await x.svc.execute(t, inv);
      assert.equal(cold.coldStart, true);
      assert.equal(x.svc.stats().prewarm.node.hits, usePool ? hits + 1 : hits, 'the cold start took a pooled runtime, or none');
      assert.match(cold.logTail!, new RegExp(`^INIT_START Runtime Version: [^\n]+\n\\S+Z\tundefined\tINFO\tinit output\nSTART RequestId: ${inv.requestId} Version: \\$LATEST\n` +
        `[^\n]+\tINFO\thandled\nEND RequestId: ${inv.requestId}\nREPORT RequestId: ${inv.requestId}\t[^\n]+\tInit Duration: [\\d.]+ ms\t\n$`), cold.logTail);
      // The same lines as the log stream's.
      assert.equal(cold.logTail, x.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e.message).join(''));
      const warm = await x.svc.execute(t, invocation('{}'));
      assert.equal(warm.coldStart, false);
      assert.match(warm.logTail!, /^START RequestId: /);
      assert.doesNotMatch(warm.logTail!, /INIT_START|init output/);
    });
  }

  test('a custom runtime: what its bootstrap writes before its first /next is in the tail', async () => {
    const t = fx.target(fx.code(bashFunction('echo "handling"', { 'handler.sh': 'echo "bootstrapping"\nhandle() {\necho handling\n}\n' })), {}, 'tail-custom');
    const inv = invocation('{}');
    const cold = await fx.svc.execute(t, inv);
    assert.match(cold.logTail!, new RegExp(`^INIT_START Runtime Version: [^\n]+\nbootstrapping\nSTART RequestId: ${inv.requestId} `), cold.logTail);
    const warm = await fx.svc.execute(t, invocation('{}'));
    assert.doesNotMatch(warm.logTail!, /INIT_START|bootstrapping/);
  });

  test('still the last 4 KB: a long init output and a long invocation leave only the end', async () => {
    const t = fx.target(fx.code({
      'index.js': `console.log('i'.repeat(3000));
exports.handler = async () => { console.log('h'.repeat(3000)); return 1; };`,
    }), { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256 }, 'tail-long');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.ok(Buffer.byteLength(o.logTail!) <= 4096, String(Buffer.byteLength(o.logTail!)));
    assert.match(o.logTail!, /^i+\nSTART RequestId: /, 'the init output\'s end is in');
    assert.doesNotMatch(o.logTail!, /INIT_START/);
    assert.match(o.logTail!, /\nREPORT RequestId: [^\n]+\n$/);
  });
});
