import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTaskRootPending, isRoot, python, startRuntime, stopAll, within, type RuntimeProc } from './harness.js';

after(stopAll);

const noPython = python() === null && 'no python3 outside /root';

async function py(files: Record<string, string>, handler: string, extra: Partial<Parameters<typeof startRuntime>[0]> = {}): Promise<RuntimeProc> {
  return startRuntime({ lang: 'python', files, handler, ...extra });
}

const APP = `
import json, logging, os, time
logger = logging.getLogger()
print("at init")

def handler(event, context):
    print("hello", "from print")
    logger.warning("a %s", "warning")
    logger.info("info is below the default level")
    return {
        "event": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_custom": context.client_context.custom if context.client_context else None,
        "client_app_title": context.client_context.client.app_title if context.client_context else None,
        "remaining": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "cwd": os.getcwd(),
    }
`;

describe('python runtime', { skip: noPython }, () => {
  test('handler, context, print and logging', async () => {
    const rt = await py({ 'app.py': APP }, 'app.handler');
    const deadline = Date.now() + 10_000;
    const r = await within(rt.api.invoke({ a: [1, 'é'] }, {
      requestId: 'py-1', deadlineMs: deadline, traceId: 'Root=1-py',
      clientContext: JSON.stringify({ custom: { k: 'v' }, client: { app_title: 'App' }, env: {} }),
      cognitoIdentity: JSON.stringify({ cognitoIdentityId: 'cid', cognitoIdentityPoolId: 'pool' }),
    }), rt, 'invoke');
    assert.equal(r.kind, 'response', r.body.toString());
    assert.equal(r.headers['content-type'], 'application/json');
    const b = r.json();
    assert.deepEqual(b.event, { a: [1, 'é'] });
    assert.equal(b.function_name, 'fn');
    assert.equal(b.function_version, '$LATEST');
    assert.equal(b.invoked_function_arn, 'arn:aws:lambda:us-east-1:123456789012:function:fn');
    assert.equal(b.memory_limit_in_mb, '256');
    assert.equal(b.aws_request_id, 'py-1');
    assert.equal(b.log_group_name, '/aws/lambda/fn');
    assert.equal(b.log_stream_name, rt.env.AWS_LAMBDA_LOG_STREAM_NAME);
    assert.deepEqual(b.identity, ['cid', 'pool']);
    assert.deepEqual(b.client_custom, { k: 'v' });
    assert.equal(b.client_app_title, 'App');
    assert.ok(b.remaining > 0 && b.remaining <= 10_000, `remaining ${b.remaining}`);
    assert.equal(b.trace, 'Root=1-py');
    assert.equal(b.cwd, rt.taskRoot);
    await rt.waitLine((l) => l === 'at init', 'init print');
    await rt.waitLine((l) => l === 'hello from print', 'print output');
    const warn = await rt.waitLine((l) => l.endsWith('\ta warning'), 'warning record');
    assert.match(warn, /^\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tpy-1\ta warning$/);
    assert.ok(!rt.lines.some((l) => l.includes('below the default level')));
    // several invocations over one connection
    for (let i = 0; i < 3; i++) assert.deepEqual((await within(rt.api.invoke(i), rt, 'again')).json().event, i);
    assert.equal(rt.api.connections, 1);
    await rt.stop();
  });

  test('the Runtime API over the descriptor the boot environment names (_STRATUS_API_FD), not TCP', async () => {
    // AWS_LAMBDA_RUNTIME_API names a closed port: any TCP connection would fail the invocations.
    // A child process the function starts with os.system does not get the descriptor.
    const app = [
      'import os, tempfile',
      'def handler(e, c):',
      '    out = tempfile.mktemp()',
      '    os.system("ls /proc/self/fd > " + out)',
      '    fds = sorted(int(x) for x in open(out).read().split())',
      '    os.remove(out)',
      '    return {"got": e, "api": os.environ["AWS_LAMBDA_RUNTIME_API"], "child_has_11": 11 in fds}',
    ].join('\n') + '\n';
    const rt = await startRuntime({ lang: 'python', files: { 'app.py': app }, handler: 'app.handler', channelFd: 11 });
    for (let i = 0; i < 3; i++) {
      const r = await within(rt.api.invoke({ i }), rt, 'invoke over the channel');
      assert.deepEqual(r.json(), { got: { i }, api: rt.env.AWS_LAMBDA_RUNTIME_API, child_has_11: false });
    }
    assert.equal(rt.api.connections, 1, 'the channel only');
    await rt.stop();
  });

  test('handler paths: pkg/file.function and pkg.mod.function; bytes results; AWS_LAMBDA_LOG_LEVEL', async () => {
    const files = {
      'pkg/__init__.py': '',
      'pkg/mod.py': 'import logging\ndef handler(e, c):\n    logging.getLogger().info("info shown")\n    return {"mod": e}\ndef raw(e, c):\n    return b"\\x00raw"\n',
    };
    for (const handler of ['pkg/mod.handler', 'pkg.mod.handler']) {
      const rt = await py(files, handler, { env: { AWS_LAMBDA_LOG_LEVEL: 'INFO' } });
      assert.deepEqual((await within(rt.api.invoke(7, { requestId: 'lvl' }), rt, handler)).json(), { mod: 7 });
      await rt.waitLine((l) => /^\[INFO\]\t\S+\tlvl\tinfo shown$/.test(l), 'info record');
      await rt.stop();
    }
    const raw = await py(files, 'pkg.mod.raw');
    const r = await within(raw.api.invoke({}), raw, 'raw');
    assert.deepEqual(r.body, Buffer.from('\x00raw', 'latin1'));
    assert.equal(r.headers['content-type'], 'application/unknown');
    await raw.stop();
  });

  test('exceptions and marshal errors: Lambda error shape, header, log record', async () => {
    const rt = await py({
      'app.py': `
class MyError(Exception):
    pass

def handler(event, context):
    if event == "value":
        raise ValueError("boom")
    if event == "custom":
        raise MyError("mine")
    return {1, 2}
`,
    }, 'app.handler');
    const e = await within(rt.api.invoke('value', { requestId: 'err-1' }), rt, 'value');
    assert.equal(e.kind, 'error');
    assert.equal(e.headers['lambda-runtime-function-error-type'], 'ValueError');
    const b = e.json();
    assert.deepEqual(Object.keys(b), ['errorMessage', 'errorType', 'requestId', 'stackTrace']);
    assert.equal(b.errorMessage, 'boom');
    assert.equal(b.errorType, 'ValueError');
    assert.equal(b.requestId, 'err-1');
    assert.equal(b.stackTrace.length, 1);
    assert.match(b.stackTrace[0], /^ {2}File ".*\/app\.py", line 7, in handler\n {4}raise ValueError\("boom"\)\n$/);
    const line = await rt.waitLine((l) => l.startsWith('[ERROR] ValueError: boom'), 'error log');
    assert.equal(line.split('\r')[1], 'Traceback (most recent call last):');
    assert.match(line.split('\r')[2]!, /^\u00a0\u00a0File /);
    const c = await within(rt.api.invoke('custom'), rt, 'custom');
    assert.equal(c.json().errorType, 'MyError');
    const m = await within(rt.api.invoke('set', { requestId: 'm-1' }), rt, 'marshal');
    assert.deepEqual(m.json(), {
      errorMessage: 'Unable to marshal response: Object of type set is not JSON serializable',
      errorType: 'Runtime.MarshalError', requestId: 'm-1', stackTrace: [],
    });
    await rt.stop();
  });

  test('responses as Lambda\'s encoder writes them: Decimals digit for digit, bytes inside as text, non-ASCII kept from 3.12', async () => {
    const files = {
      'app.py': `from decimal import Decimal
def handler(event, context):
    return {"price": Decimal("1.10"), "big": Decimal("12345678901234567890.123456789"), "list": [Decimal("1E+2"), Decimal("-0.000")],
            "trap": "\\u0000 not a placeholder", "b": b"abc", "u": "h\u00e9llo"}
`,
    };
    for (const [runtime, escaped] of [['python3.11', true], ['python3.13', false]] as const) {
      const rt = await py(files, 'app.handler', { env: { AWS_EXECUTION_ENV: `AWS_Lambda_${runtime}` } });
      const r = await within(rt.api.invoke({}), rt, runtime);
      const text = r.body.toString();
      assert.match(text, /"price": 1\.10, "big": 12345678901234567890\.123456789, "list": \[1E\+2, -0\.000\]/);
      assert.equal(r.json().trap, '\u0000 not a placeholder');
      assert.equal(r.json().b, 'abc');
      assert.equal(text.includes('\\u00e9'), escaped, text);
      await rt.stop();
    }
  });

  test('what simplejson (Lambda\'s encoder) sees: _asdict() objects as dicts, bytes keys as text, a bytearray as no JSON', async () => {
    const rt = await py({
      'app.py': `import collections
Point = collections.namedtuple("Point", "x y")
class Row:
    def _asdict(self):
        return {"id": 7}
def handler(event, context):
    if event == "bytearray":
        return {"b": bytearray(b"ab")}
    return {"point": Point(1, 2), "points": [Point(3, [Point(4, 5)])], "row": Row(), b"key": "v", "pair": (1, 2)}
`,
    }, 'app.handler');
    const r = await within(rt.api.invoke({}), rt, 'asdict');
    assert.deepEqual(r.json(), { point: { x: 1, y: 2 }, points: [{ x: 3, y: [{ x: 4, y: 5 }] }], row: { id: 7 }, key: 'v', pair: [1, 2] });
    const b = await within(rt.api.invoke('bytearray', { requestId: 'ba-1' }), rt, 'bytearray');
    assert.equal(b.json().errorType, 'Runtime.MarshalError');
    assert.equal(b.json().errorMessage, 'Unable to marshal response: Object of type bytearray is not JSON serializable');
    await rt.stop();
  });

  test('sys.stdout and sys.stderr as Lambda\'s wrapper: a context manager that closes nothing, write() returning None; the context\'s reprs', async () => {
    const rt = await py({
      'app.py': `import sys
def handler(event, context):
    with sys.stdout:
        n = sys.stdout.write("inside with\\n")
    with sys.stderr as e:
        e.write("stderr too\\n")
    print("after with")
    return {"n": n, "cc": repr(context.client_context), "ctx": repr(context)}
`,
    }, 'app.handler');
    const clientContext = JSON.stringify({ custom: { k: 'v' }, env: { e: 1 }, client: { installation_id: 'iid', app_title: 't' } });
    const r = await within(rt.api.invoke({}, { requestId: 'with-1', clientContext }), rt, 'with');
    assert.equal(r.kind, 'response', r.body.toString());
    const out = r.json();
    assert.equal(out.n, null);
    assert.equal(out.cc, "ClientContext([custom={'k': 'v'},env={'e': 1},client=Client([installation_id=iid,app_title=t,app_version_name=None,app_version_code=None,app_package_name=None])])");
    assert.match(out.ctx, /^LambdaContext\(\[aws_request_id=with-1,.*,client_context=ClientContext\(\[.*\]\),identity=CognitoIdentity\(\[cognito_identity_id=None,cognito_identity_pool_id=None\]\),tenant_id=None\]\)$/);
    await rt.waitLine((l) => l.includes('after with'), 'print after with');
    await rt.stop();
  });

  test('JSON logs: the unhandled error record, extra fields, location, levels by their standard names, TRACE as DEBUG', async () => {
    const rt = await py({
      'app.py': `import logging
log = logging.getLogger("app")
def handler(event, context):
    log.debug("debug shown", extra={"orderId": 42})
    log.log(25, "between levels")
    context.log("from context.log\\n")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("caught \u00e9")
    raise ValueError("boom")
`,
    }, 'app.handler', { env: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'TRACE' } });
    const e = await within(rt.api.invoke({}, { requestId: 'j-1' }), rt, 'invoke');
    assert.equal(e.kind, 'error');
    const rec = (pred: (o: any) => boolean, what: string) => rt.waitLine((l) => { try { return pred(JSON.parse(l)); } catch { return false; } }, what).then((l) => JSON.parse(l));
    const dbg = await rec((o) => o.message === 'debug shown', 'debug record');
    assert.equal(dbg.level, 'DEBUG');
    assert.equal(dbg.orderId, 42);
    assert.equal(dbg.requestId, 'j-1');
    assert.equal((await rec((o) => o.message === 'between levels', 'level 25')).level, 'INFO');
    const caught = await rec((o) => o.errorType === 'ZeroDivisionError', 'exception record');
    assert.equal(caught.message, 'caught é');
    assert.match(caught.location, /app\.py:handler:10$/);
    assert.deepEqual(Object.keys(caught), ['timestamp', 'level', 'message', 'logger', 'stackTrace', 'errorType', 'errorMessage', 'requestId', 'location']);
    const err = await rec((o) => o.errorType === 'ValueError', 'unhandled error record');
    assert.deepEqual(Object.keys(err), ['timestamp', 'level', 'errorMessage', 'errorType', 'requestId', 'stackTrace']);
    assert.equal(err.level, 'ERROR');
    assert.equal(err.errorMessage, 'boom');
    assert.equal(err.requestId, 'j-1');
    assert.match(err.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    await rt.stop();
  });

  test('a log record that cannot be formatted raises in the logging call, as Lambda\'s handler lets it; extra cannot set the error fields', async () => {
    const rt = await py({
      'app.py': `import datetime, logging
log = logging.getLogger("app")
def handler(event, context):
    if event == "fields":
        log.error("custom", extra={"errorType": "Mine", "location": "here", "stackTrace": "st", "errorMessage": "em", "tenant": "t"})
        return "ok"
    if event == "datetime":
        log.info("dt", extra={"when": datetime.datetime(2024, 1, 1)})
    if event == "no-exception":
        log.error("nothing raised", exc_info=True)
    if event == "bad-args":
        log.warning("%d items", "many")
    return "logged"
`,
    }, 'app.handler', { env: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'INFO' } });
    assert.equal((await within(rt.api.invoke('fields', { requestId: 'f-1' }), rt, 'fields')).json(), 'ok');
    const rec = JSON.parse(await rt.waitLine((l) => l.includes('"custom"'), 'the record'));
    assert.deepEqual(Object.keys(rec), ['timestamp', 'level', 'message', 'logger', 'requestId', 'tenant']);
    for (const [event, type] of [['datetime', 'TypeError'], ['no-exception', 'AttributeError'], ['bad-args', 'TypeError']]) {
      const e = await within(rt.api.invoke(event, { requestId: `f-${event}` }), rt, event);
      assert.equal(e.kind, 'error', event);
      assert.equal(e.json().errorType, type, event);
    }
    await rt.stop();
  });

  test('init errors: ImportModuleError, HandlerNotFound, UserCodeSyntaxError, MalformedHandlerName, raised at import', async () => {
    const cases: { files: Record<string, string>; handler: string; type: string; message: RegExp | string }[] = [
      { files: { 'app.py': '' }, handler: 'nope.handler', type: 'Runtime.ImportModuleError', message: "Unable to import module 'nope': No module named 'nope'" },
      { files: { 'app.py': 'import not_installed_pkg\n' }, handler: 'app.handler', type: 'Runtime.ImportModuleError', message: "Unable to import module 'app': No module named 'not_installed_pkg'" },
      { files: { 'app.py': 'x = 1\n' }, handler: 'app.nope', type: 'Runtime.HandlerNotFound', message: "Handler 'nope' missing on module 'app'" },
      { files: { 'app.py': 'def handler(:\n' }, handler: 'app.handler', type: 'Runtime.UserCodeSyntaxError', message: /^Syntax error in module 'app': / },
      { files: { 'app.py': '' }, handler: 'app', type: 'Runtime.MalformedHandlerName', message: /^Bad handler 'app': / },
      { files: { 'app.py': 'raise KeyError("cfg")\n' }, handler: 'app.handler', type: 'KeyError', message: "'cfg'" },
    ];
    for (const c of cases) {
      const rt = await py(c.files, c.handler);
      const e = await within(rt.api.initError(), rt, `init error ${c.handler}`);
      const b = e.json();
      assert.equal(b.errorType, c.type, JSON.stringify(b));
      if (typeof c.message === 'string') assert.equal(b.errorMessage, c.message);
      else assert.match(b.errorMessage, c.message);
      assert.equal(b.requestId, '');
      assert.ok(Array.isArray(b.stackTrace));
      assert.equal(e.headers['lambda-runtime-function-error-type'], c.type);
      assert.equal((await within(rt.exited, rt, 'exit')).code, 1);
      assert.equal(rt.api.nextCount, 0);
      // A WARNING record of the logging module, as Lambda's client writes it (no request id at init).
      assert.ok(rt.lines.some((l) => /^\[WARNING\]\t\d{4}-\d\d-\d\dT[\d:.]+Z\t\tLAMBDA_WARNING: Unhandled exception\. /.test(l)), rt.lines.join('\n'));
      assert.ok(rt.lines.some((l) => l.startsWith(`[ERROR] ${c.type}: `)), rt.lines.join('\n'));
      await rt.stop();
    }
  });

  test('reconnects when the Runtime API closes the connection', async () => {
    const rt = await py({ 'app.py': 'def handler(e, c):\n    return e\n' }, 'app.handler');
    rt.api.closeAfterEach = true;
    for (let i = 0; i < 3; i++) assert.equal((await within(rt.api.invoke(i), rt, `invoke ${i}`)).json(), i);
    assert.ok(rt.api.connections >= 3, `connections: ${rt.api.connections}`);
    await rt.stop();
  });

  test('the environment is replaced entirely by the assignment', async () => {
    const rt = await py({ 'app.py': 'import os\ndef handler(e, c):\n    return dict(os.environ)\n' }, 'app.handler', { env: { MY_VAR: 'mine' } });
    const env = (await within(rt.api.invoke({}, { traceId: 'Root=1-x' }), rt, 'env')).json();
    assert.equal(env.STRATUS_BOOT_SECRET, undefined);
    assert.deepEqual(env, { ...rt.env, _X_AMZN_TRACE_ID: 'Root=1-x' });
    await rt.stop();
  });

  test('_X_AMZN_TRACE_ID follows each invocation in os.environ, getenv and child processes', async () => {
    const rt = await py({
      'app.py': [
        'import os, subprocess',
        'def handler(e, c):',
        '    child = subprocess.run(["/bin/sh", "-c", "printf %s \\"$_X_AMZN_TRACE_ID\\""], capture_output=True).stdout.decode()',
        '    return {"environ": os.environ.get("_X_AMZN_TRACE_ID"), "getenv": os.getenv("_X_AMZN_TRACE_ID"), "child": child}',
        '',
      ].join('\n'),
    }, 'app.handler');
    for (const traceId of ['Root=1-aaaa;Sampled=0', 'Root=1-bbbb;Sampled=1', 'Root=1-cc']) {
      const r = (await within(rt.api.invoke({}, { traceId }), rt, 'trace')).json();
      assert.deepEqual(r, { environ: traceId, getenv: traceId, child: traceId });
    }
    await rt.stop();
    // A function that replaces os.environ with a mapping of its own still gets the trace id there.
    const own = await py({ 'app.py': 'import os\nos.environ = dict(os.environ)\ndef handler(e, c):\n    return os.environ.get("_X_AMZN_TRACE_ID")\n' }, 'app.handler');
    for (const traceId of ['Root=1-dddd', 'Root=1-eeee']) {
      assert.equal((await within(own.api.invoke({}, { traceId }), own, 'own environ')).json(), traceId);
    }
    await own.stop();
  });

  test('privilege drop to the assigned uid/gid/groups', { skip: !isRoot && 'needs root' }, async () => {
    const rt = await py({
      'app.py': `
import os
def handler(e, c):
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
    return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
            "capEff": status["CapEff"].strip(), "capPrm": status["CapPrm"].strip()}
`,
    }, 'app.handler', { uid: 65534, gid: 65534, groups: [65533] });
    const r = (await within(rt.api.invoke({}), rt, 'uid')).json();
    assert.equal(r.uid, 65534);
    assert.equal(r.euid, 65534);
    assert.equal(r.gid, 65534);
    assert.deepEqual(r.groups.filter((g: number) => g !== 65534), [65533]);
    assert.equal(r.capEff, '0000000000000000');
    assert.equal(r.capPrm, '0000000000000000');
    await rt.stop();
  });

  test('with taskRootPending, enters the task root only once told it is ready', async () => {
    await checkTaskRootPending((files, extra) => py(files, 'app.handler', extra), 'app.py', 'def handler(e, c):\n    return e\n');
  });
});
