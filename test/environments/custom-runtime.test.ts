import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { shimExecutable } from '../../src/environments/sandbox/exec.js';
import { findExecutable } from '../../src/environments/sandbox/shell.js';
import { python } from '../runtimes/harness.js';
import { alive, descendants, type ProcId } from '../cli/helpers.js';
import { sharedBase } from '../helpers/server.js';
import { BASH_BOOTSTRAP, bashFunction, fixture, invocation, isRoot, sleep } from './helpers.js';

const fx = await fixture();
after(() => fx.stop());
const FAST = { memorySize: 1769 };

/** BASH_BOOTSTRAP writing each result to a file of its own: the process sandbox's environments share the host's /tmp. */
const OWN_OUT_BOOTSTRAP = BASH_BOOTSTRAP.replace('source ./handler.sh', 'OUT=$(mktemp)\nsource ./handler.sh').replaceAll('"${TMPDIR:-/tmp}/.out"', '"$OUT"');
const procKey = (p: ProcId) => `${p.pid}:${p.start}`;
const cmdline = (pid: number) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return `${pid} (gone)`; } };
/** The environments' cgroups (namespace sandbox) of this process's execution services: /sys/fs/cgroup/pids/stratus/<pid>-<start>/<envId>. */
function cgroupsOfThisServer(): string[] {
  const root = '/sys/fs/cgroup/pids/stratus';
  let out: string[] = [];
  try {
    for (const inst of fs.readdirSync(root)) {
      if (!inst.startsWith(`${process.pid}-`)) continue;
      out = out.concat(fs.readdirSync(path.join(root, inst), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${inst}/${d.name}`));
    }
  } catch { /* no cgroups (the process sandbox) */ }
  return out.sort();
}

describe('custom runtime (bash + curl)', () => {
  test('a bootstrap written for Amazon Linux 2023: #!/bin/sh is bash (pipefail, source), the tutorial loop works', { skip: !isRoot && 'the namespace driver gives /bin/sh its own meaning' }, async () => {
    // The shape of AWS's custom runtime tutorial: sh with bash options, the handler file sourced,
    // the request id scraped from the headers, the response posted with curl -d.
    const bootstrap = `#!/bin/sh
set -euo pipefail
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"
while true
do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")
  curl -sS "http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE"
done
`;
    const key = fx.code({
      bootstrap: { text: bootstrap, mode: 0o755 },
      'function.sh': 'function handler () {\n  echo "$1" 1>&2\n  echo "Echoing request: \'$1\'"\n}\n',
    });
    const t = fx.target(key, { ...FAST, handler: 'function.handler' }, 'tutorial');
    for (let i = 0; i < 2; i++) {
      const o = await fx.svc.execute(t, invocation('{"text":"Hello"}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      assert.equal(o.payload.toString(), 'Echoing request: \'{"text":"Hello"}\'');
      assert.equal(o.coldStart, i === 0);
    }
  });

  test('warm reuse, request headers, logs in Lambda format', async () => {
    const key = fx.code(bashFunction('echo "handling $2" >&2; echo "{\\"req\\":\\"$REQ\\",\\"deadline\\":$DEADLINE,\\"arn\\":\\"$ARN\\",\\"trace\\":\\"$TRACE\\",\\"pid\\":$$,\\"event\\":$1}"'));
    const t = fx.target(key, FAST, 'warm');
    const before = Date.now();
    const i1 = invocation('{"n":1}', { invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:warm:live' });
    const o1 = await fx.svc.execute(t, i1);
    assert.equal(o1.status, 'ok', o1.payload.toString());
    const r1 = JSON.parse(o1.payload.toString());
    assert.equal(r1.req, i1.requestId);
    assert.deepEqual(r1.event, { n: 1 });
    assert.equal(r1.arn, 'arn:aws:lambda:us-east-1:000000000000:function:warm:live');
    assert.equal(r1.trace, i1.traceId);
    assert.ok(r1.deadline >= before + 3000 && r1.deadline <= Date.now() + 3000, `deadline ${r1.deadline}`);
    assert.equal(o1.coldStart, true);
    assert.ok(o1.initDurationMs! > 0);
    const o2 = await fx.svc.execute(t, invocation('{"n":2}'));
    const r2 = JSON.parse(o2.payload.toString());
    assert.equal(o2.coldStart, false);
    assert.equal(o2.initDurationMs, undefined);
    assert.equal(r2.pid, r1.pid, 'same environment reused');
    assert.equal(fx.svc.stats().environments >= 1, true);
    // logs: one stream named like Lambda's, START / output / END / REPORT
    const streams = fx.sink.events.filter((e) => e.group === '/aws/lambda/warm').map((e) => e.stream);
    assert.equal(new Set(streams).size, 1);
    assert.match(streams[0]!, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    const tail = o2.logTail!;
    const id = invocation.length && r2.req;
    assert.match(tail, new RegExp(`^START RequestId: ${id} Version: \\$LATEST\\nhandling ${id}\\nEND RequestId: ${id}\\nREPORT RequestId: ${id}\\tDuration: \\d+\\.\\d{2} ms\\tBilled Duration: \\d+ ms\\tMemory Size: 1769 MB\\tMax Memory Used: \\d+ MB\\t\\n$`));
    assert.match(o1.logTail!, /\tInit Duration: \d+\.\d{2} ms\t\n$/);
    assert.equal(o2.billedDurationMs, Math.max(1, Math.ceil(o2.durationMs)));
    assert.ok(o2.maxMemoryUsedMB > 0);
  });

  test('function error posted to /error', async () => {
    const key = fx.code(bashFunction('echo "about to fail" >&2; return 3'));
    const o = await fx.svc.execute(fx.target(key, FAST, 'errs'), invocation('{}'));
    assert.equal(o.status, 'error');
    assert.equal(o.errorType, 'Custom.Failed');
    assert.deepEqual(JSON.parse(o.payload.toString()), { errorMessage: 'handler failed', errorType: 'Custom.Failed', stackTrace: [] });
    assert.match(o.logTail!, /about to fail/);
  });

  test('the error type is the Lambda-Runtime-Function-Error-Type header, the payload the body as posted', async () => {
    const key = fx.code({
      ...bashFunction('return 3'),
      bootstrap: { text: BASH_BOOTSTRAP.replace("-H 'Lambda-Runtime-Function-Error-Type: Custom.Failed'", "-H 'Lambda-Runtime-Function-Error-Type: Custom.FromHeader'"), mode: 0o755 },
    });
    const o = await fx.svc.execute(fx.target(key, FAST, 'err-header'), invocation('{}'));
    assert.equal(o.errorType, 'Custom.FromHeader');
    assert.deepEqual(JSON.parse(o.payload.toString()), { errorMessage: 'handler failed', errorType: 'Custom.Failed', stackTrace: [] });
  });

  test('an error body is the payload as posted, JSON or not; error-with-cause bodies lose their cause', async () => {
    // What the runtime posts to /error, with which Content-Type, and the payload the caller gets.
    const post = (headers: string, body: string) => BASH_BOOTSTRAP.replace(
      `-H 'Lambda-Runtime-Function-Error-Type: Custom.Failed' "$API/invocation/$REQ/error" \\\n      --data-binary "{\\"errorMessage\\":\\"handler failed\\",\\"errorType\\":\\"Custom.Failed\\",\\"stackTrace\\":[]}"`,
      `${headers} "$API/invocation/$REQ/error" --data-binary '${body}'`);
    const cases: [string, string, string, string][] = [
      // headers, body, expected payload, expected error type
      ["-H 'Content-Type: text/plain'", 'it broke: not JSON', 'it broke: not JSON', 'Unhandled'],
      ["-H 'Lambda-Runtime-Function-Error-Type: Custom.Plain'", '[1,2]', '[1,2]', 'Custom.Plain'],
      ["-H 'Content-Type: application/vnd.aws.lambda.error.cause+json'",
        '{"errorMessage":"boom","errorType":"Custom.Caused","stackTrace":["at x"],"errorCause":{"paths":[],"working_directory":"/var/task","exceptions":[]}}',
        '{"errorMessage":"boom","errorType":"Custom.Caused","stackTrace":["at x"]}', 'Custom.Caused'],
      ["-H 'Content-Type: application/vnd.aws.lambda.error.cause+json'", '{"errorMessage":', '"Invalid error body"', 'Unhandled'],
    ];
    for (const [i, [headers, body, payload, errorType]] of cases.entries()) {
      const bootstrap = post(headers, body);
      assert.notEqual(bootstrap, BASH_BOOTSTRAP, 'the error post was replaced');
      const key = fx.code({ ...bashFunction('return 3'), bootstrap: { text: bootstrap, mode: 0o755 } });
      const o = await fx.svc.execute(fx.target(key, FAST, `err-body-${i}`), invocation('{}'));
      assert.equal(o.status, 'error');
      assert.equal(o.payload.toString(), payload, body);
      assert.equal(o.errorType, errorType, body);
    }
  });

  test('timeout kills the environment with Lambda\'s message', async () => {
    const key = fx.code(bashFunction('echo "$$" > /tmp/pid; sleep 30; echo "{}"'));
    const t = fx.target(key, { ...FAST, timeout: 1 }, 'slow');
    const inv = invocation('{}');
    const o = await fx.svc.execute(t, inv);
    assert.equal(o.status, 'error');
    assert.equal(o.errorType, 'Sandbox.Timedout');
    assert.deepEqual(JSON.parse(o.payload.toString()), { errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${inv.requestId} Error: Task timed out after 1.00 seconds` });
    assert.match(o.logTail!, new RegExp(`\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z ${inv.requestId} Task timed out after 1.00 seconds\\n`));
    assert.match(o.logTail!, /\tDuration: 1000\.00 ms\tBilled Duration: \d+ ms\t.*\tStatus: timeout/);
    assert.equal(o.durationMs, 1000);
    // the next invocation gets a fresh environment
    const o2 = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o2.coldStart, true);
  });

  test('crash mid-invocation: Runtime.ExitError and the environment is replaced', async () => {
    const key = fx.code(bashFunction('if [ "$1" = \'"crash"\' ]; then exit 1; fi; if [ "$1" = \'"quit"\' ]; then exit 0; fi; if [ "$1" = \'"segv"\' ]; then kill -SEGV $$; fi; echo "$$"'));
    const t = fx.target(key, FAST, 'crashy');
    const pid1 = (await fx.svc.execute(t, invocation('"hi"'))).payload.toString();
    const inv = invocation('"crash"');
    const o = await fx.svc.execute(t, inv);
    assert.equal(o.status, 'error');
    assert.equal(o.errorType, 'Runtime.ExitError');
    assert.deepEqual(JSON.parse(o.payload.toString()), { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${inv.requestId} Error: Runtime exited with error: exit status 1` });
    const o2 = await fx.svc.execute(t, invocation('"hi"'));
    assert.equal(o2.coldStart, true);
    assert.notEqual(o2.payload.toString(), '');
    // A clean exit gives no reason, in Lambda's words.
    const quit = invocation('"quit"');
    const o3 = await fx.svc.execute(t, quit);
    assert.deepEqual(JSON.parse(o3.payload.toString()), { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${quit.requestId} Error: Runtime exited without providing a reason` });
    assert.match(o3.logTail!, new RegExp(`RequestId: ${quit.requestId} Error: Runtime exited without providing a reason\nRuntime.ExitError\n`));
    // A signal that dumps core, as Go's ProcessState words it.
    const segv = invocation('"segv"');
    const o4 = await fx.svc.execute(t, segv);
    assert.deepEqual(JSON.parse(o4.payload.toString()), { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${segv.requestId} Error: Runtime exited with error: signal: segmentation fault (core dumped)` });
    void pid1;
  });

  test('init error via /runtime/init/error fails the first invocation', async () => {
    const boot = `#!/bin/bash
curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError' \\
  "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error" \\
  --data-binary '{"errorMessage":"Cannot find module x","errorType":"Runtime.ImportModuleError","stackTrace":[]}'
# The init phase ends when the runtime exits, as RAPID ends it: this is the init's too.
next=$(curl -s -o /dev/null -w '%{http_code}' "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next")
echo "after the init error: next $next"
sleep 0.4
exit 1
`;
    const key = fx.code({ bootstrap: { text: boot, mode: 0o755 } });
    const o = await fx.svc.execute(fx.target(key, FAST, 'initerr'), invocation('{}'));
    assert.equal(o.status, 'error');
    assert.equal(o.errorType, 'Runtime.ImportModuleError');
    assert.equal(JSON.parse(o.payload.toString()).errorMessage, 'Cannot find module x');
    assert.equal(o.coldStart, true);
    const log = fx.sink.text();
    const first = log.indexOf('after the init error: next 403\n');
    const report = /INIT_REPORT Init Duration: ([\d.]+) ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError\n/.exec(log);
    assert.ok(first >= 0 && report && first < report.index, log);
    assert.ok(Number(report![1]) >= 400, `Init Duration ${report![1]} ms runs to the exit`);
  });

  test('an init error\'s type, as the platform records it: holding Runtime.Xxx / Function.Xxx as posted, anything else Runtime.Unknown or Function.Unknown', async () => {
    for (const [header, expected] of [
      ['Runtime.CustomInit', 'Runtime.CustomInit'], ['Function.BadConfig', 'Function.BadConfig'], ['MyInit.Type', 'Runtime.Unknown'],
      ['Runtime.bad', 'Runtime.Unknown'], ['Function.with_underscore', 'Function.Unknown'], [null, 'Runtime.Unknown'],
      // RAPID's pattern is not anchored: a value that holds one anywhere is kept as posted.
      ['Runtime.Bad_Type', 'Runtime.Bad_Type'], ['MyApp Runtime.Weird', 'MyApp Runtime.Weird'],
    ] as const) {
      const h = header === null ? '' : `-H 'Lambda-Runtime-Function-Error-Type: ${header}'`;
      // A function of its own each (a reset left by the one before must not be this one's).
      const name = `inittype-${String(header).replace(/[^A-Za-z0-9_-]/g, '_')}`;
      const boot = `#!/bin/bash\ncurl -sS -o /dev/null -X POST ${h} "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error" --data-binary '{"errorMessage":"no","errorType":"Own.Type"}'\nexit 1\n`;
      const key = fx.code({ bootstrap: { text: boot, mode: 0o755 } });
      const o = await fx.svc.execute(fx.target(key, FAST, name), invocation('{}'));
      assert.equal(o.errorType, expected, String(header));
      // The payload is the runtime's own.
      assert.deepEqual(JSON.parse(o.payload.toString()), { errorMessage: 'no', errorType: 'Own.Type' });
      assert.match(o.logTail!, new RegExp(`INIT_REPORT Init Duration: [\\d.]+ ms\tPhase: init\tStatus: error\tError Type: ${expected.replace('.', '\\.')}\n`), o.logTail);
    }
  });

  test('an init past 10 s is killed and run again within the invocation (suppressed init), bounded by the function timeout', async () => {
    // The bootstrap sleeps through Lambda's 10 s init limit before asking for work, both times.
    const key = fx.code({ bootstrap: { text: '#!/bin/bash\necho "slow init"\nsleep 30\n', mode: 0o755 } });
    const t = fx.target(key, { ...FAST, timeout: 3 }, 'slowinit');
    const inv = invocation('{}');
    const envsBefore = fx.svc.stats().environments;
    const started = Date.now();
    const o = await fx.svc.execute(t, inv);
    const took = Date.now() - started;
    assert.equal(o.status, 'error');
    assert.equal(o.errorType, 'Sandbox.Timedout');
    assert.deepEqual(JSON.parse(o.payload.toString()), { errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${inv.requestId} Error: Task timed out after 3.00 seconds` });
    assert.ok(took >= 12_900 && took < 25_000, `answered after ${took} ms`);
    assert.ok(o.durationMs! >= 3000 && o.durationMs! < 6000, `duration ${o.durationMs}`);
    assert.match(o.logTail!, new RegExp('^INIT_START [^\n]*\nslow init\nINIT_REPORT Init Duration: 10000\\.00 ms\tPhase: init\tStatus: timeout\n' +
      'slow init\nINIT_REPORT Init Duration: 3000\\.00 ms\tPhase: invoke\tStatus: timeout\n' +
      `START RequestId: ${inv.requestId} Version: \\$LATEST\n[^\n]+ ${inv.requestId} Task timed out after 3\\.00 seconds\nEND RequestId: ${inv.requestId}\n` +
      `REPORT RequestId: ${inv.requestId}\tDuration: [\\d.]+ ms\tBilled Duration: \\d+ ms\tMemory Size: 1769 MB\tMax Memory Used: \\d+ MB\tStatus: timeout\t\n$`));
    assert.equal(fx.svc.stats().busy, 0, 'nothing left running');
    assert.equal(fx.svc.stats().environments, envsBefore, 'both attempts are gone');
  });

  test('an init past 10 s that fits the function timeout the second time: the invocation succeeds, warm after', async () => {
    // Each attempt takes 10.5 s: the first is cut at 10 s, the second (suppressed) init has the
    // function's 15 s timeout for itself and the handler. The handler sees that deadline.
    const key = fx.code({
      bootstrap: { text: BASH_BOOTSTRAP, mode: 0o755 },
      'handler.sh': 'echo "loading"\nsleep 10.5\nhandle() {\n  echo "{\\"deadline\\":$DEADLINE}"\n}\n',
    });
    const t = fx.target(key, { ...FAST, timeout: 15 }, 'slowinit-ok');
    const inv = invocation('{}');
    const started = Date.now();
    const o = await fx.svc.execute(t, inv);
    assert.equal(o.status, 'ok', o.payload.toString());
    const { deadline } = JSON.parse(o.payload.toString());
    // The deadline is the invocation's: counted from the start of the second attempt, not the handler's start.
    assert.ok(deadline >= started + 10_000 + 15_000 - 500 && deadline <= started + 10_000 + 15_000 + 2_000, `deadline ${deadline - started} ms after the call`);
    assert.ok(o.durationMs! >= 10_500, `duration ${o.durationMs} counts the suppressed init`);
    assert.equal(o.initDurationMs, undefined);
    assert.match(o.logTail!, new RegExp('INIT_REPORT Init Duration: 10000\\.00 ms\tPhase: init\tStatus: timeout\nloading\n' +
      `START RequestId: ${inv.requestId} Version: \\$LATEST\n`));
    assert.doesNotMatch(o.logTail!, /Phase: invoke/);
    assert.match(o.logTail!, /\nREPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 1769 MB\tMax Memory Used: \d+ MB\t\n$/);
    assert.equal(o.logTail!.match(/INIT_START/g)?.length, 1, 'one INIT_START: the suppressed init continues the stream');
    const again = await fx.svc.execute(t, invocation('{}'));
    assert.equal(again.status, 'ok');
    assert.equal(again.coldStart, false, 'the environment of the suppressed init stays warm');
  });

  test('runtime that exits during init: Runtime.ExitError', async () => {
    const key = fx.code({ bootstrap: { text: '#!/bin/bash\necho "boom" >&2\nexit 2\n', mode: 0o755 } });
    const inv = invocation('{}');
    const o = await fx.svc.execute(fx.target(key, FAST, 'initexit'), inv);
    assert.equal(o.errorType, 'Runtime.ExitError');
    assert.equal(JSON.parse(o.payload.toString()).errorMessage, `RequestId: ${inv.requestId} Error: Runtime exited with error: exit status 2`);
    assert.match(fx.sink.text(), /boom\n/);
    // The invocation's log tail shows why: the init phase's output and INIT_REPORT, the same again
    // for the suppressed init (Phase: invoke), then START, the error, END, and REPORT with the error.
    assert.match(o.logTail!, new RegExp(`^INIT_START [^\n]*\nboom\nINIT_REPORT Init Duration: [\\d.]+ ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError\n` +
      `boom\nINIT_REPORT Init Duration: [\\d.]+ ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ExitError\n` +
      `START RequestId: ${inv.requestId} Version: \\$LATEST\nRequestId: ${inv.requestId} Error: Runtime exited with error: exit status 2\nRuntime.ExitError\n` +
      `END RequestId: ${inv.requestId}\nREPORT RequestId: ${inv.requestId}\tDuration: [\\d.]+ ms\tBilled Duration: \\d+ ms\tMemory Size: 1769 MB\t` +
      `Max Memory Used: [1-9]\\d* MB\tStatus: error\tError Type: Runtime.ExitError\t\n$`));
    assert.equal(fx.sink.text().split('\n').filter((l) => l === 'boom').length >= 2, true, 'the init ran twice');
  });

  test('a bootstrap that is missing or not executable: Runtime.InvalidEntrypoint, in Lambda\'s words', async () => {
    for (const [name, files, reason] of [
      ['nobootstrap', { 'main.sh': 'echo hi\n' }, (dir: string) => `Couldn't find valid bootstrap(s): [${dir}/bootstrap /opt/bootstrap]`],
      ['noexec', { bootstrap: { text: '#!/bin/bash\nexit 0\n', mode: 0o644 } }, (dir: string) => `fork/exec ${dir}/bootstrap: permission denied`],
    ] as const) {
      const key = fx.code(files);
      const inv = invocation('{}');
      const o = await fx.svc.execute(fx.target(key, FAST, name), inv);
      assert.equal(o.errorType, 'Runtime.InvalidEntrypoint', name);
      const msg = `RequestId: ${inv.requestId} Error: ${reason(fx.taskRoot(key))}`;
      assert.deepEqual(JSON.parse(o.payload.toString()), { errorType: 'Runtime.InvalidEntrypoint', errorMessage: msg });
      assert.match(o.logTail!, /INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Runtime.InvalidEntrypoint\n/);
      assert.ok(o.logTail!.includes(`${msg}\nRuntime.InvalidEntrypoint\n`), o.logTail);
      assert.doesNotMatch(o.logTail!, /setpriv|exit 126/);
    }
  });

  test('a bootstrap the kernel cannot execute: Runtime.InvalidEntrypoint with execve\'s errno, never run by a shell', { skip: !shimExecutable() && `no exec shim for ${process.arch}` }, async () => {
    // Lambda starts its bootstrap with Go's os/exec (no shell fallback) and reports the errno:
    // "fork/exec /var/task/bootstrap: exec format error". Through setpriv's execvp, a file
    // without #! ran as a shell script (exit status 3 here) and the others came back as 126/127.
    for (const [name, text, errno] of [
      ['no-shebang', 'echo ran-by-a-shell\nexit 3\n', 'exec format error'],
      ['crlf-shebang', '#!/bin/bash\r\necho ran-by-a-shell\r\nexit 3\r\n', 'no such file or directory'],
      ['missing-interpreter', '#!/nonexistent/interp\necho ran-by-a-shell\n', 'no such file or directory'],
      ['foreign-elf', `\x7fELF${'\0'.repeat(60)}`, 'exec format error'],
    ] as const) {
      const key = fx.code({ bootstrap: { text, mode: 0o755 } });
      const inv = invocation('{}');
      const o = await fx.svc.execute(fx.target(key, FAST, name), inv);
      const msg = `RequestId: ${inv.requestId} Error: fork/exec ${fx.taskRoot(key)}/bootstrap: ${errno}`;
      assert.equal(o.errorType, 'Runtime.InvalidEntrypoint', `${name}: ${o.payload.toString()}`);
      assert.deepEqual(JSON.parse(o.payload.toString()), { errorType: 'Runtime.InvalidEntrypoint', errorMessage: msg }, name);
      assert.match(o.logTail!, /INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Runtime.InvalidEntrypoint\n/, name);
      assert.ok(o.logTail!.includes(`${msg}\nRuntime.InvalidEntrypoint\n`), o.logTail);
      assert.doesNotMatch(o.logTail!, /ran-by-a-shell|setpriv|cannot execute|exit status/, name);
    }
  });

  test('response over 6 MB: Function.ResponseSizeTooLarge', async () => {
    const key = fx.code(bashFunction('head -c 6291557 /dev/zero | tr "\\\\0" "a"'));
    const o = await fx.svc.execute(fx.target(key, FAST, 'big'), invocation('{}'));
    assert.equal(o.status, 'error');
    assert.equal(o.errorType, 'Function.ResponseSizeTooLarge');
    assert.deepEqual(JSON.parse(o.payload.toString()), {
      errorMessage: 'Response payload size exceeded maximum allowed payload size (6291556 bytes).', errorType: 'Function.ResponseSizeTooLarge',
    });
    const key2 = fx.code(bashFunction('head -c 6291556 /dev/zero | tr "\\\\0" "a"'));
    const o2 = await fx.svc.execute(fx.target(key2, FAST, 'big-ok'), invocation('{}'));
    assert.equal(o2.status, 'ok');
    assert.equal(o2.payload.length, 6291556);
  });

  test('an error document is a payload like a response: whole up to 6 MB, Function.ResponseSizeTooLarge over it', async () => {
    // The handler posts the error itself (the bootstrap's own response post after it is refused).
    const post = (n: number) => bashFunction(`
      { printf '{"errorMessage":"'; head -c ${n} /dev/zero | tr "\\\\0" "e"; printf '","errorType":"Big"}'; } > /tmp/err
      curl -s -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.Big' "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$2/error" --data-binary @/tmp/err
      echo '{}'`);
    const o = await fx.svc.execute(fx.target(fx.code(post(2 * 1024 * 1024)), FAST, 'big-error'), invocation('{}'));
    assert.equal(o.status, 'error');
    assert.equal(o.errorType, 'Runtime.Big');
    assert.equal(o.payload.length, 2 * 1024 * 1024 + 37);
    assert.equal(JSON.parse(o.payload.toString()).errorType, 'Big');
    const o2 = await fx.svc.execute(fx.target(fx.code(post(6291557 - 37)), FAST, 'big-error-2'), invocation('{}'));
    assert.equal(o2.status, 'error');
    assert.equal(o2.errorType, 'Function.ResponseSizeTooLarge');
    assert.deepEqual(JSON.parse(o2.payload.toString()), {
      errorMessage: 'Response payload size exceeded maximum allowed payload size (6291556 bytes).', errorType: 'Function.ResponseSizeTooLarge',
    });
  });

  test('environment variables: Lambda\'s, the function\'s, nothing of the host', async () => {
    process.env.STRATUS_SECRET_TEST = 'leaked!';
    const key = fx.code(bashFunction('env | sort | base64 -w0 | sed "s/.*/\\"&\\"/"'));
    const t = fx.target(key, { ...FAST, environment: { MY_VAR: 'x y', AWS_REGION: 'eu-west-9', PATH: '/custom:/usr/bin:/bin' } }, 'envfn');
    const o = await fx.svc.execute(t, invocation('{}'));
    delete process.env.STRATUS_SECRET_TEST;
    const lines = Buffer.from(JSON.parse(o.payload.toString()), 'base64').toString().split('\n').filter(Boolean);
    const env = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(env.STRATUS_SECRET_TEST, undefined);
    assert.equal(env.MY_VAR, 'x y');
    assert.equal(env.AWS_REGION, 'us-east-1', 'reserved variables cannot be overridden');
    assert.equal(env.PATH, '/custom:/usr/bin:/bin', 'PATH is not reserved');
    assert.equal(env.AWS_LAMBDA_FUNCTION_NAME, 'envfn');
    assert.equal(env.AWS_LAMBDA_FUNCTION_VERSION, '$LATEST');
    assert.equal(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, '1769');
    assert.equal(env.AWS_LAMBDA_LOG_GROUP_NAME, '/aws/lambda/envfn');
    assert.match(env.AWS_LAMBDA_LOG_STREAM_NAME!, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    assert.equal(env._HANDLER, 'handler');
    assert.equal(env.TZ, ':UTC');
    assert.equal(env.AWS_LAMBDA_INITIALIZATION_TYPE, 'on-demand');
    assert.equal(env.AWS_XRAY_CONTEXT_MISSING, 'LOG_ERROR');
    assert.equal(env.AWS_XRAY_DAEMON_ADDRESS, `${env._AWS_XRAY_DAEMON_ADDRESS}:${env._AWS_XRAY_DAEMON_PORT}`);
    assert.equal(env.AWS_LAMBDA_LOG_FORMAT, undefined, 'Text logs: no log variables');
    assert.match(env.AWS_LAMBDA_RUNTIME_API!, /^127\.0\.0\.1:\d+$/);
    assert.equal(env.LAMBDA_TASK_ROOT, fx.taskRoot(key));
    // The sandbox's shell changed to the task root: its OLDPWD (where the server was started) was
    // exported to the bootstrap. PWD is bash's own, the task root (Lambda's: /var/task).
    assert.equal(env.OLDPWD, undefined, 'no OLDPWD: the server\'s working directory');
    assert.equal(env.PWD, fx.taskRoot(key));
    for (const k of Object.keys(env)) {
      assert.ok(/^(AWS_|LAMBDA_|_HANDLER|_AWS_XRAY_DAEMON_ADDRESS|_AWS_XRAY_DAEMON_PORT|TZ|LANG|PATH|LD_LIBRARY_PATH|MY_VAR|PWD|SHLVL|_|REQ|DEADLINE|ARN|TRACE|H|EVENT|API)$/.test(k) || k.startsWith('AWS_') || k.startsWith('LAMBDA_'), `unexpected variable ${k}`);
    }
  });

  test('a revision change sends new invocations to new environments', async () => {
    const key = fx.code(bashFunction('echo "$$"'));
    const a = await fx.svc.execute(fx.target(key, FAST, 'rev', 'r1'), invocation('{}'));
    const b = await fx.svc.execute(fx.target(key, FAST, 'rev', 'r2'), invocation('{}'));
    assert.equal(b.coldStart, true);
    assert.notEqual(a.payload.toString(), '');
    const c = await fx.svc.execute(fx.target(key, FAST, 'rev', 'r2'), invocation('{}'));
    assert.equal(c.coldStart, false);
    assert.equal(c.payload.toString(), b.payload.toString());
  });

  test('a revision change while an invocation cold-starts: it runs on its environment after its one init, which then ends', async () => {
    const gate = fs.mkdtempSync(path.join(sharedBase(), 'stratus-revise-'));
    fs.chmodSync(gate, 0o755);
    after(() => fs.rmSync(gate, { recursive: true, force: true }));
    const key = fx.code({
      bootstrap: { text: OWN_OUT_BOOTSTRAP, mode: 0o755 },
      'handler.sh': 'until [ -e "$GATE/init" ]; do sleep 0.05; done\nhandle() {\necho "{\\"rev\\":\\"$REV\\"}"\n}\n',
    });
    const at = (rev: string) => fx.target(key, { ...FAST, environment: { GATE: gate, REV: rev } }, 'revise', rev);
    const envs0 = fx.svc.stats().environments;
    const p1 = fx.svc.execute(at('r1'), invocation('{}'));
    for (let i = 0; i < 400 && fx.svc.stats().environments === envs0; i++) await sleep(50);
    assert.equal(fx.svc.stats().environments, envs0 + 1);
    const p2 = fx.svc.execute(at('r2'), invocation('{}')); // retires r1's slot
    fs.writeFileSync(path.join(gate, 'init'), '');
    const [o1, o2] = await Promise.all([p1, p2]);
    assert.deepEqual([o1.status, o2.status], ['ok', 'ok'], o1.payload.toString());
    assert.deepEqual(JSON.parse(o1.payload.toString()), { rev: 'r1' });
    assert.ok(o1.initDurationMs !== undefined, 'its own init, not one retried within the invocation');
    assert.deepEqual(JSON.parse(o2.payload.toString()), { rev: 'r2' });
    for (let i = 0; i < 400 && fx.svc.stats().environments > envs0 + 1; i++) await sleep(50);
    assert.equal(fx.svc.stats().environments, envs0 + 1, 'r1\'s environment ended; r2\'s is kept');
    const warm = await fx.svc.execute(at('r2'), invocation('{}'));
    assert.equal(warm.coldStart, false);
    const log = fx.sink.events.filter((e) => e.group === '/aws/lambda/revise').map((e) => e.e.message).join('');
    assert.doesNotMatch(log, /INIT_REPORT/, log);
  });

  test('retireFunction (a delete): invocations in flight finish with their own results, a cold start\'s after its one init; idle environments end at once, the others after, and nothing of them is left', async () => {
    // The function waits at its init for the file init, and an event with "wait" for the file run.
    const gate = fs.mkdtempSync(path.join(sharedBase(), 'stratus-retire-'));
    fs.chmodSync(gate, 0o755);
    const open = (name: string) => fs.writeFileSync(path.join(gate, name), '');
    after(() => fs.rmSync(gate, { recursive: true, force: true }));
    const key = fx.code({
      bootstrap: { text: OWN_OUT_BOOTSTRAP, mode: 0o755 },
      'handler.sh': 'until [ -e "$GATE/init" ]; do sleep 0.05; done\n'
        + 'handle() {\ncase "$1" in *wait*) until [ -e "$GATE/run" ]; do sleep 0.05; done;; esac\necho "{\\"event\\":$1}"\n}\n',
    });
    const cfg = { ...FAST, timeout: 30, environment: { GATE: gate } };
    const latest = fx.target(key, cfg, 'retire');
    const v1 = { ...latest, version: '1' };
    const envs0 = fx.svc.stats().environments;
    const base = new Set(descendants(process.pid).map(procKey));
    const added = () => descendants(process.pid).filter((p) => !base.has(procKey(p)));
    const groups = cgroupsOfThisServer();
    open('init');
    assert.equal((await fx.svc.execute(v1, invocation('{"n":0}'))).status, 'ok');
    const idleProcs = added(); // version 1's environment, idle: its runtime waits for its next event
    assert.ok(idleProcs.length > 0);
    assert.equal((await fx.svc.execute(latest, invocation('{"n":1}'))).status, 'ok');
    const p1 = fx.svc.execute(latest, invocation('{"wait":1}')); // on the warm environment, held at run
    for (let i = 0; i < 400 && fx.svc.stats().busy === 0; i++) await sleep(50);
    assert.equal(fx.svc.stats().busy, 1);
    fs.rmSync(path.join(gate, 'init'));
    const p2 = fx.svc.execute(latest, invocation('{"n":2}')); // a cold start, held in its init
    for (let i = 0; i < 400 && fx.svc.stats().environments < envs0 + 3; i++) await sleep(50);
    assert.equal(fx.svc.stats().environments, envs0 + 3);
    let settled = 0;
    for (const p of [p1, p2]) void p.finally(() => settled++);

    await fx.svc.retireFunction('retire');
    // The idle environment ends now, while the invocations in flight still wait at their gates.
    for (let i = 0; i < 400 && idleProcs.some(alive); i++) await sleep(50);
    assert.deepEqual(idleProcs.filter(alive), [], 'the idle environment ended');
    assert.equal(settled, 0);
    open('init');
    open('run');
    const [o1, o2] = await Promise.all([p1, p2]);
    assert.equal(o1.status, 'ok', o1.payload.toString());
    assert.deepEqual(JSON.parse(o1.payload.toString()), { event: { wait: 1 } });
    assert.equal(o2.status, 'ok', o2.payload.toString());
    assert.deepEqual(JSON.parse(o2.payload.toString()), { event: { n: 2 } });
    assert.equal(o2.coldStart, true);
    assert.ok(o2.initDurationMs !== undefined, 'its own init, not one retried within the invocation (a suppressed init has no Init Duration)');
    // Then their environments end: no process, no cgroup of the function is left.
    const left = () => added().length > 0 || fx.svc.stats().environments > envs0 || cgroupsOfThisServer().length > groups.length;
    for (let i = 0; i < 400 && left(); i++) await sleep(50);
    assert.deepEqual(added().map((p) => cmdline(p.pid)), []);
    assert.equal(fx.svc.stats().environments, envs0);
    assert.deepEqual(cgroupsOfThisServer(), groups);
    const log = fx.sink.events.filter((e) => e.group === '/aws/lambda/retire').map((e) => e.e.message).join('');
    assert.doesNotMatch(log, /Runtime\.ExitError|INIT_REPORT/, log);
  });
});

describe('a function\'s environment is exactly its own', () => {
  // Lambda's variables, the function's (MY_VAR) and nothing of the server's: no PWD or OLDPWD of
  // the directory it was started in (the sandbox's shell exported both to the runtime).
  const LAMBDA_VARS = [
    'AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_DEFAULT_REGION', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_VERSION',
    'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_LAMBDA_RUNTIME_API', 'AWS_REGION',
    'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_XRAY_CONTEXT_MISSING', 'AWS_XRAY_DAEMON_ADDRESS', 'LAMBDA_RUNTIME_DIR', 'LAMBDA_TASK_ROOT',
    'LANG', 'LD_LIBRARY_PATH', 'MY_VAR', 'PATH', 'TZ', '_AWS_XRAY_DAEMON_ADDRESS', '_AWS_XRAY_DAEMON_PORT', '_HANDLER',
  ];
  const expect = (extra: string[]) => [...LAMBDA_VARS, ...extra].sort();

  test('a bootstrap that is no shell: env(1) itself', async () => {
    const key = fx.code({ 'README': 'env(1) is the bootstrap\n' });
    const bootstrap = path.join(fx.codeDir(key), 'bootstrap');
    fs.copyFileSync(findExecutable('env')!, bootstrap);
    fs.chmodSync(bootstrap, 0o755);
    const o = await fx.svc.execute(fx.target(key, { ...FAST, environment: { MY_VAR: 'x' } }, 'env-raw'), invocation('{}'));
    // env(1) prints and exits: the init fails, and its suppressed retry prints the same again.
    const names = [...new Set(o.logTail!.split('\n').filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l)).map((l) => l.slice(0, l.indexOf('='))))].sort();
    assert.deepEqual(names, expect([]), o.logTail);
  });

  test('PATH and LD_LIBRARY_PATH as Lambda\'s images set them: /var/lang first for a language runtime, not for an OS-only one', async () => {
    const key = fx.code({ 'index.js': 'exports.handler = async () => [process.env.PATH, process.env.LD_LIBRARY_PATH];\n' });
    const o = await fx.svc.execute(fx.target(key, { ...FAST, runtime: 'nodejs20.x', handler: 'index.handler' }, 'paths-node'), invocation('{}'));
    const root = fx.svc.describe().driver === 'namespace' ? { task: '/var/task', rt: '/var/runtime' } : null;
    const [p, ld] = JSON.parse(o.payload.toString()) as string[];
    assert.equal(p, '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin');
    if (root) assert.equal(ld, '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib');
    const custom = fx.code({ bootstrap: { text: '#!/bin/sh\nenv\nexit 1\n', mode: 0o755 } });
    const c = await fx.svc.execute(fx.target(custom, FAST, 'paths-custom'), invocation('{}'));
    assert.match(c.logTail!, /^PATH=\/usr\/local\/bin:\/usr\/bin\/:\/bin:\/opt\/bin$/m);
    if (root) assert.match(c.logTail!, /^LD_LIBRARY_PATH=\/lib64:\/usr\/lib64:\/var\/runtime:\/var\/runtime\/lib:\/var\/task:\/var\/task\/lib:\/opt\/lib$/m);
  });

  test('the bootstrap gets the variables as given, even names a shell keeps for itself (UID, RANDOM, OPTIND, SHLVL)', async () => {
    const key = fx.code({ 'README': 'env(1) is the bootstrap\n' });
    const bootstrap = path.join(fx.codeDir(key), 'bootstrap');
    fs.copyFileSync(findExecutable('env')!, bootstrap);
    fs.chmodSync(bootstrap, 0o755);
    const given = { UID: '5', RANDOM: '7', OPTIND: '3', SHLVL: '5', QUOTED: "it's a \"$HOME\" `x`" };
    const o = await fx.svc.execute(fx.target(key, { ...FAST, environment: given }, 'env-shell-names'), invocation('{}'));
    const lines = o.logTail!.split('\n');
    for (const [k, v] of Object.entries(given)) assert.ok(lines.includes(`${k}=${v}`), `${k}=${v} in:\n${o.logTail}`);
  });

  for (const [runtime, handler, files, extra, cfg] of [
    ['nodejs20.x', 'index.handler', { 'index.js': 'exports.handler = async () => Object.keys(process.env).sort();\n' }, ['AWS_EXECUTION_ENV', 'NODE_PATH', '_X_AMZN_TRACE_ID'], {}],
    // NODE_OPTIONS: a runtime started for the function, in its task root (the sandbox's shell changes directory).
    ['nodejs20.x', 'index.handler', { 'index.js': 'exports.handler = async () => Object.keys(process.env).sort();\n' }, ['AWS_EXECUTION_ENV', 'NODE_OPTIONS', 'NODE_PATH', '_X_AMZN_TRACE_ID'], { NODE_OPTIONS: '--no-warnings' }],
    ['python3.12', 'app.handler', { 'app.py': 'import os\ndef handler(e, c):\n    return sorted(os.environ.keys())\n' }, ['AWS_EXECUTION_ENV', 'PYTHONPATH', '_X_AMZN_TRACE_ID'], {}],
  ] as const) {
    test(`${runtime}${Object.keys(cfg).length ? ' with NODE_OPTIONS' : ''}: process.env / os.environ`, { skip: runtime.startsWith('python') && !python() && 'python3 not installed' }, async () => {
      const key = fx.code(files);
      const o = await fx.svc.execute(fx.target(key, { ...FAST, runtime, handler, environment: { MY_VAR: 'x', ...cfg } }, `env-${runtime.replace('.', '-')}${Object.keys(cfg).length ? '-opts' : ''}`), invocation('{}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      assert.deepEqual(JSON.parse(o.payload.toString()), expect([...extra]));
    });
  }
});

describe('Runtime API refusals', () => {
  test('response for a foreign id, second response, init error after init', async () => {
    // The handler itself plays the misbehaving runtime and logs the status codes it got. It goes
    // on after its first response, so it logs them instead of answering a second invocation (one
    // that came before it asks for more would get a new environment, without its /tmp).
    const body = `
      A="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
      s1=$(curl -s -o /tmp/b1 -w '%{http_code}' -X POST "$A/invocation/not-my-id/response" -d '{}')
      s2=$(curl -s -o /tmp/b2 -w '%{http_code}' -X POST "$A/init/error" -d '{}')
      s3=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$A/invocation/$2/response" -d '"first"')
      s4=$(curl -s -o /tmp/b4 -w '%{http_code}' -X POST "$A/invocation/$2/response" -d '"second"')
      s5=$(curl -s -o /dev/null -w '%{http_code}' "$A/nope")
      s6=$(curl -s -o /tmp/b6 -w '%{http_code}' -X POST "$A/invocation/not-my-id/error" -d '{}')
      s7=$(curl -s -o /tmp/b7 -w '%{http_code}' -X POST "$A/init/error" -d '{}')
      echo "REFUSALS $s1 $(cat /tmp/b1) | $s2 $(cat /tmp/b2) | $s3 | $s4 $(cat /tmp/b4) | $s5 | $s6 $(cat /tmp/b6) | $s7 $(cat /tmp/b7)" >&2
      echo '"unused"'`;
    const key = fx.code(bashFunction(body));
    const t = fx.target(key, FAST, 'refuse');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o.status, 'ok');
    assert.equal(o.payload.toString(), '"first"');
    let line: string | undefined;
    for (let i = 0; i < 200 && !line; i++) {
      line = fx.sink.events.find((e) => e.group === '/aws/lambda/refuse' && e.e.message.startsWith('REFUSALS '))?.e.message;
      if (!line) await sleep(50);
    }
    assert.ok(line, 'the handler logged what it got');
    const [r1, r2, r3, r4, r5, r6, r7] = line.slice('REFUSALS '.length).trim().split(' | ');
    assert.equal(r1, '400 {"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}');
    // RAPID's messages and state names (Lambda's Runtime API, as in its runtime interface emulator).
    assert.equal(r2, '403 {"errorMessage":"State transition from Ready to InitError failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}');
    assert.equal(r3, '202');
    assert.equal(r4, '403 {"errorMessage":"State transition from RuntimeResponseSentState to InvocationResponse failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}');
    assert.equal(r5, '404');
    // After its result, before its next /next, the state refuses first, whatever the id.
    assert.equal(r6, '403 {"errorMessage":"State transition from RuntimeResponseSentState to InvocationErrorResponse failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}');
    assert.equal(r7, '403 {"errorMessage":"State transition from RuntimeResponseSentState to InitError failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}');
  });

  test('a result posted during the init, before the first /next: refused by the state (Started), whatever the id', async () => {
    const bootstrap = BASH_BOOTSTRAP.replace('source ./handler.sh\n', 'source ./handler.sh\n'
      + 'c1=$(curl -s -o /tmp/e1 -w \'%{http_code}\' -X POST "$API/invocation/some-id/response" -d \'{}\')\n'
      + 'c2=$(curl -s -o /tmp/e2 -w \'%{http_code}\' -X POST "$API/invocation/some-id/error" -d \'{}\')\n'
      + 'echo "EARLY $c1 $(cat /tmp/e1) | $c2 $(cat /tmp/e2)" >&2\n');
    assert.notEqual(bootstrap, BASH_BOOTSTRAP);
    const key = fx.code({ bootstrap: { text: bootstrap, mode: 0o755 }, 'handler.sh': 'handle() { echo \'"ok"\'; }\n' });
    const o = await fx.svc.execute(fx.target(key, FAST, 'refuse-started'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    const line = fx.sink.events.find((e) => e.group === '/aws/lambda/refuse-started' && e.e.message.startsWith('EARLY '))?.e.message;
    assert.equal(line, 'EARLY 403 {"errorMessage":"State transition from Started to InvocationResponse failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}'
      + ' | 403 {"errorMessage":"State transition from Started to InvocationErrorResponse failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}\n');
  });

  test('a /next during an invocation answers that invocation again; a query string does not change the endpoint', async () => {
    // RAPID: Running -> Ready is no transition, and /next renders the current invocation.
    const body = `
      H=$(mktemp)
      again=$(curl -s -D "$H" "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next?from=handler")
      id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$H" | tr -d '\\r' | cut -d' ' -f2)
      deadline=$(grep -i '^Lambda-Runtime-Deadline-Ms:' "$H" | tr -d '\\r' | cut -d' ' -f2)
      echo "{\\"id\\":\\"$id\\",\\"sameDeadline\\":$([ "$deadline" = "$DEADLINE" ] && echo true || echo false),\\"event\\":$again}"`;
    const key = fx.code(bashFunction(body));
    const inv = invocation('{"n":1}');
    const o = await fx.svc.execute(fx.target(key, FAST, 'next-again'), inv);
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.deepEqual(JSON.parse(o.payload.toString()), { id: inv.requestId, sameDeadline: true, event: { n: 1 } });
  });

  test('a result for the previous invocation\'s id while the next one runs: 400 InvalidRequestID', async () => {
    // RAPID checks a posted id against the current invocation's before anything else.
    const body = `
      A="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
      if [ -f /tmp/prev ]; then
        s=$(curl -s -o /tmp/b -w '%{http_code}' -X POST "$A/invocation/$(cat /tmp/prev)/response" -d '"stale"')
        echo "STALE $s $(cat /tmp/b)" >&2
      fi
      echo "$2" > /tmp/prev
      echo '"ok"'`;
    const key = fx.code(bashFunction(body));
    const t = fx.target(key, FAST, 'stale-id');
    const o1 = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o1.status, 'ok', o1.payload.toString());
    const o2 = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o2.coldStart, false);
    assert.equal(o2.payload.toString(), '"ok"\n');
    assert.match(o2.logTail!, /\nSTALE 400 \{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"\}\n/);
  });

  test('the response mode header: buffered or streaming in any case; another value fails the invocation as Lambda\'s Runtime API does', async () => {
    // What the runtime was answered is kept in /tmp; the next invocation (same environment) returns it.
    const post = (mode: string) => `
      if [ -f /tmp/mode ]; then cat /tmp/mode; return 0; fi
      A="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
      curl -s -w ' %{http_code}' -X POST -H 'Lambda-Runtime-Function-Response-Mode: ${mode}' --data-binary 'posted' "$A/invocation/$2/response" > /tmp/mode
      echo ignored; return 0`;
    const t = fx.target(fx.code(bashFunction(post('Bogus'))), FAST, 'mode-bad');
    const bad = await fx.svc.execute(t, invocation('{}'));
    assert.equal(bad.status, 'error');
    assert.equal(bad.errorType, 'Runtime.InvalidResponseModeHeader');
    assert.equal(bad.payload.length, 0);
    const answer = await fx.svc.execute(t, invocation('{}'));
    assert.equal(answer.coldStart, false);
    assert.equal(answer.payload.toString(), '{"errorMessage":"Invalid function response mode","errorType":"InvalidFunctionResponseMode"}\n 400');
    const buffered = await fx.svc.execute(fx.target(fx.code(bashFunction(post('BUFFERED'))), FAST, 'mode-buffered'), invocation('{}'));
    assert.equal(buffered.status, 'ok', buffered.payload.toString());
    assert.equal(buffered.payload.toString(), 'posted');
    const chunks: string[] = [];
    const streamed = await fx.svc.execute(fx.target(fx.code(bashFunction(post('Streaming'))), FAST, 'mode-streaming'), invocation('{}', {
      stream: { start: () => {}, write: (b) => { chunks.push(b.toString()); return true; }, drained: (f) => f(), end: () => {} },
    }));
    assert.equal(streamed.status, 'ok');
    assert.equal(streamed.streamed, true);
    assert.equal(chunks.join(''), 'posted');
  });

  test('streaming response is forwarded chunk by chunk', async () => {
    const body = `
      A="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
      { printf 'one,'; sleep 0.2; printf 'two'; } | curl -s -o /dev/null -X POST -H 'Lambda-Runtime-Function-Response-Mode: streaming' \\
        -H 'Transfer-Encoding: chunked' -H 'Content-Type: text/plain' --data-binary @- "$A/invocation/$2/response"
      echo ignored; return 0`;
    // The bootstrap posts "ignored" after the stream: that second response must be refused, not break the stream.
    const key = fx.code(bashFunction(body));
    const chunks: string[] = [];
    let ct: string | undefined;
    let ended = false;
    const o = await fx.svc.execute(fx.target(key, FAST, 'stream'), invocation('{}', {
      stream: { start: (c) => { ct = c; }, write: (b) => { chunks.push(b.toString()); return true; }, drained: (f) => f(), end: () => { ended = true; } },
    }));
    assert.equal(o.status, 'ok');
    assert.equal(o.streamed, true);
    assert.equal(ct, 'text/plain');
    assert.equal(chunks.join(''), 'one,two');
    assert.ok(ended);
  });

  test('a streamed response whose connection closes before its end fails at once with Runtime.TruncatedResponse', async () => {
    // RAPID ends a stream whose body read fails with this error type; Stratus waited for the timeout.
    const body = `
      exec 3<>"/dev/tcp/\${AWS_LAMBDA_RUNTIME_API%:*}/\${AWS_LAMBDA_RUNTIME_API#*:}"
      printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\nHost: rt\\r\\n' "$2" >&3
      printf 'Lambda-Runtime-Function-Response-Mode: streaming\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n4\\r\\none,\\r\\n' >&3
      sleep 0.2; exec 3>&-
      echo ignored; return 0`;
    const key = fx.code(bashFunction(body));
    const chunks: string[] = [];
    let ended: { errorType: string; errorMessage: string } | undefined;
    const started = Date.now();
    const o = await fx.svc.execute(fx.target(key, { ...FAST, timeout: 10 }, 'stream-cut'), invocation('{}', {
      stream: { start: () => {}, write: (b) => { chunks.push(b.toString()); return true; }, drained: (f) => f(), end: (e) => { ended = e; } },
    }));
    assert.equal(o.status, 'error');
    assert.equal(o.errorType, 'Runtime.TruncatedResponse');
    assert.equal(o.streamed, true);
    assert.equal(ended?.errorType, 'Runtime.TruncatedResponse');
    assert.equal(chunks.join(''), 'one,');
    assert.ok(Date.now() - started < 5000, 'not held until the timeout');
  });

  test('a streamed response cut while its client is stalled still fails at once with Runtime.TruncatedResponse; the environment is kept', async () => {
    // The client takes nothing in (write() is false, drained never comes), so the body is paused
    // after its first chunk; 512 KiB more and the close wait behind it. Stratus read neither until
    // the client drained, and the invocation ran to its timeout (Sandbox.Timedout, a reset).
    const N = 512 * 1024;
    const body = `
      exec 3<>"/dev/tcp/\${AWS_LAMBDA_RUNTIME_API%:*}/\${AWS_LAMBDA_RUNTIME_API#*:}"
      printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\nHost: rt\\r\\n' "$2" >&3
      printf 'Lambda-Runtime-Function-Response-Mode: streaming\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n%x\\r\\n' ${N} >&3
      head -c ${N} /dev/zero | tr '\\0' a >&3
      sleep 0.2; exec 3>&-
      echo ignored; return 0`;
    const t = fx.target(fx.code(bashFunction(body)), { ...FAST, timeout: 10 }, 'stream-cut-stalled');
    let got = 0;
    let ended: { errorType: string; errorMessage: string } | undefined;
    let drainedAsked = 0;
    const started = Date.now();
    const o = await fx.svc.execute(t, invocation('{}', {
      stream: { start: () => {}, write: (b) => { got += b.length; return false; }, drained: () => { drainedAsked++; }, end: (e) => { ended = e; } },
    }));
    assert.equal(o.errorType, 'Runtime.TruncatedResponse', o.payload.toString());
    assert.equal(o.streamed, true);
    assert.ok(Date.now() - started < 5000, 'not held until the timeout');
    assert.equal(ended?.errorType, 'Runtime.TruncatedResponse', 'the sink is ended');
    assert.equal(drainedAsked, 1, 'the body was held back');
    // What the runtime sent before its close goes on, as it does for a client that keeps up.
    assert.equal(got, N);
    const next = await fx.svc.execute(t, invocation('{}', {
      stream: { start: () => {}, write: () => true, drained: (f) => f(), end: () => {} },
    }));
    assert.equal(next.coldStart, false, 'the environment is kept');
  });

  // A buffered result whose connection closes mid-body: RAPID takes it as the runtime's result
  // (ErrTruncatedResponse: the response is marked sent) and ends the invocation at once. The
  // caller of a cut /response gets Runtime.TruncatedResponse; of a cut /error, the error type the
  // runtime posted with the body it could not read (none). Stratus waited for the timeout.
  for (const [verb, header, errorType, payload, refusedAs] of [
    ['response', '', 'Runtime.TruncatedResponse', '{"errorType":"Runtime.TruncatedResponse"}', 'InvocationResponse'],
    ['error', 'Lambda-Runtime-Function-Error-Type: Custom.Cut\\r\\n', 'Custom.Cut', '', 'InvocationErrorResponse'],
  ] as const) {
    test(`a buffered /${verb} whose connection closes mid-body ends the invocation before its timeout; a proper ${verb} after it is refused`, async () => {
      // Content-Length: 100, 10 bytes written, the socket closed; then the same post, whole, on a new
      // connection. The body waits for 100 Continue: the connection is admitted (its peer checked
      // while it is still open) and the post begun before it is cut.
      const body = `
        A="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
        exec 3<>"/dev/tcp/\${AWS_LAMBDA_RUNTIME_API%:*}/\${AWS_LAMBDA_RUNTIME_API#*:}"
        printf 'POST /2018-06-01/runtime/invocation/%s/${verb} HTTP/1.1\\r\\nHost: rt\\r\\n${header}Content-Length: 100\\r\\nExpect: 100-continue\\r\\n\\r\\n' "$2" >&3
        read -r -t 5 line <&3
        printf '0123456789' >&3
        exec 3>&-
        s=$(curl -s -o /tmp/retry -w '%{http_code}' -X POST "$A/invocation/$2/${verb}" -d '{"errorMessage":"whole","errorType":"Custom.Whole"}')
        echo "RETRY $s $(cat /tmp/retry)" >&2
        echo ignored; return 0`;
      const t = fx.target(fx.code(bashFunction(body)), { ...FAST, timeout: 10 }, `cut-${verb}`);
      const started = Date.now();
      const o = await fx.svc.execute(t, invocation('{}'));
      assert.ok(Date.now() - started < 10_000, 'ended before the function\'s timeout');
      assert.equal(o.status, 'error');
      assert.equal(o.errorType, errorType, o.payload.toString());
      assert.equal(o.payload.toString(), payload);
      assert.equal(o.streamed, undefined);
      assert.match(o.logTail!, new RegExp(`RETRY 403 \\{"errorMessage":"State transition from RuntimeResponseSentState to ${refusedAs} failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"\\}\\n`), o.logTail);
      // No reset: the runtime lives on and takes the next invocation, warm.
      const next = await fx.svc.execute(t, invocation('{}'));
      assert.equal(next.coldStart, false);
      assert.equal(next.errorType, errorType);
    });
  }

  test('a runtime that dies mid-stream: the client\'s stream ends with Runtime.TruncatedResponse, the log says how the runtime exited', async () => {
    const body = `
      exec 3<>"/dev/tcp/\${AWS_LAMBDA_RUNTIME_API%:*}/\${AWS_LAMBDA_RUNTIME_API#*:}"
      printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\nHost: rt\\r\\n' "$2" >&3
      printf 'Lambda-Runtime-Function-Response-Mode: streaming\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n4\\r\\none,\\r\\n' >&3
      sleep 0.2; kill -9 $$`;
    const key = fx.code(bashFunction(body));
    const chunks: string[] = [];
    let ended: { errorType: string; errorMessage: string } | undefined;
    const inv = invocation('{}', { stream: { start: () => {}, write: (b) => { chunks.push(b.toString()); return true; }, drained: (f) => f(), end: (e) => { ended = e; } } });
    const o = await fx.svc.execute(fx.target(key, { ...FAST, timeout: 10 }, 'stream-crash'), inv);
    assert.equal(ended?.errorType, 'Runtime.TruncatedResponse');
    assert.equal(chunks.join(''), 'one,');
    assert.equal(o.status, 'error');
    assert.equal(o.streamed, true);
    assert.equal(o.errorType, 'Runtime.ExitError');
    assert.ok(o.logTail!.includes(`RequestId: ${inv.requestId} Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n`), o.logTail);
    assert.match(o.logTail!, /\tStatus: error\tError Type: Runtime\.ExitError\t\n$/);
  });

  test('a streamed response is cut at 200 MB with Function.ResponseSizeTooLarge', async () => {
    // Lambda documents a 200 MB maximum for a streamed response.
    const limit = 200 * 1024 * 1024;
    const body = `
      A="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
      head -c ${limit + 4096} /dev/zero | curl -s -o /dev/null -X POST -H 'Lambda-Runtime-Function-Response-Mode: streaming' \\
        -H 'Transfer-Encoding: chunked' --data-binary @- "$A/invocation/$2/response"
      echo ignored; return 0`;
    const key = fx.code(bashFunction(body));
    let bytes = 0;
    let ended: { errorType: string; errorMessage: string } | undefined;
    const o = await fx.svc.execute(fx.target(key, { ...FAST, timeout: 30 }, 'stream-big'), invocation('{}', {
      stream: { start: () => {}, write: (b) => { bytes += b.length; return true; }, drained: (f) => f(), end: (e) => { ended = e; } },
    }));
    assert.equal(o.status, 'error');
    assert.equal(o.errorType, 'Function.ResponseSizeTooLarge');
    assert.equal(ended?.errorType, 'Function.ResponseSizeTooLarge');
    assert.equal(bytes, limit);
  });
});

void http;
