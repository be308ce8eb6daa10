import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { StratusError } from '../../src/core/errors.js';
import { describeAlias, formatFunctions } from '../../src/cli/commands/functions.js';
import { describeFunctionError, readPayload } from '../../src/cli/commands/invoke.js';
import { EventDeduper, formatLogEvent } from '../../src/cli/commands/logs.js';
import { sampleRecipes } from '../../src/cli/commands/up.js';
import { CliError, errorLine, exitCodeOf } from '../../src/cli/errors.js';
import { errorFromResponse, normalizeEndpoint, queryString } from '../../src/cli/http.js';
import { intArg, keyValueArg, parseKeyValues, parseWeights, weightArg } from '../../src/cli/options.js';
import { inferDefaults, listDirectory, listZip, loadPackage, type PackageFile } from '../../src/cli/package.js';
import { formatRecord, formatTable, shortTime } from '../../src/cli/table.js';
import { parseDuration, parseTimeSpec } from '../../src/cli/time.js';
import { makeZip } from '../helpers/zip.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0); // 2026-11-22T12:00:00Z

test('durations', () => {
  const cases: Array<[string, number | null]> = [
    ['30s', 30_000], ['5m', 300_000], ['1h', 3_600_000], ['2d', 172_800_000], ['1w', 604_800_000],
    ['1.5h', 5_400_000], ['10 min', 600_000], ['250ms', 250], ['3 hours', 10_800_000],
    ['5', null], ['m', null], ['5y', null], ['-5m', null], ['', null],
  ];
  for (const [text, want] of cases) assert.equal(parseDuration(text), want, text);
});

test('time specs: relative, absolute UTC, offsets, nonsense', () => {
  const cases: Array<[string, number | null]> = [
    ['now', NOW],
    ['10m', NOW - 600_000],
    ['2d', NOW - 2 * 86_400_000],
    ['2026-11-22', Date.UTC(2026, 10, 22)],
    ['2026-11-22 10:00', Date.UTC(2026, 10, 22, 10, 0)],
    ['2026-11-22T10:00', Date.UTC(2026, 10, 22, 10, 0)],
    ['2026-11-22 10:00:05', Date.UTC(2026, 10, 22, 10, 0, 5)],
    ['2026-11-22T10:00:05.250Z', Date.UTC(2026, 10, 22, 10, 0, 5, 250)],
    ['2026-11-22 10:00 UTC', Date.UTC(2026, 10, 22, 10, 0)],
    ['2026-11-22 10:00+02:00', Date.UTC(2026, 10, 22, 8, 0)],
    ['2026-11-22T10:00:00-0530', Date.UTC(2026, 10, 22, 15, 30)],
    ['2026-11-22 10:00 +01', Date.UTC(2026, 10, 22, 9, 0)],
    ['2026-02-31', null],
    ['2026-13-01', null],
    ['2026-11-22 25:00', null],
    ['yesterday', null],
    ['22/11/2026', null],
  ];
  for (const [text, want] of cases) assert.equal(parseTimeSpec(text, NOW), want, text);
});

test('tables: padded columns, ragged last column, no trailing blanks', () => {
  assert.equal(formatTable(['A', 'LONG HEADER', 'Z'], []), 'A  LONG HEADER  Z');
  assert.equal(
    formatTable(['NAME', 'N', 'NOTE'], [['alpha', '1', ''], ['b', '22222', 'last column is not padded']]),
    ['NAME   N      NOTE', 'alpha  1', 'b      22222  last column is not padded'].join('\n'),
  );
  assert.equal(formatRecord([['Name', 'x'], ['Skipped', undefined], ['LongerKey', 3], ['Empty', '']]), 'Name       x\nLongerKey  3');
  assert.equal(shortTime('2026-11-22T10:00:00.000+0000'), '2026-11-22 10:00:00Z');
  assert.equal(shortTime('2026-11-22T10:00:00.123Z'), '2026-11-22 10:00:00Z');
  assert.equal(shortTime('not a time'), 'not a time');
  assert.equal(shortTime(undefined), '');
});

test('stratus ls table and alias descriptions', () => {
  const out = formatFunctions([
    { FunctionName: 'hello', FunctionArn: 'arn:x', Runtime: 'nodejs20.x', MemorySize: 128, Timeout: 3, LastModified: '2026-11-22T10:00:00.000+0000' },
    { FunctionName: 'a-much-longer-name', FunctionArn: 'arn:y', Runtime: 'python3.12', MemorySize: 1024, Timeout: 900, LastModified: '2026-11-23T01:02:03.000+0000' },
  ]).split('\n');
  assert.match(out[0]!, /^NAME\s+RUNTIME\s+MEMORY\s+TIMEOUT\s+LAST MODIFIED$/);
  assert.match(out[1]!, /^hello\s+nodejs20\.x\s+128 MB\s+3s\s+2026-11-22 10:00:00Z$/);
  assert.match(out[2]!, /^a-much-longer-name\s+python3\.12\s+1024 MB\s+900s\s+2026-11-23 01:02:03Z$/);
  assert.equal(out[1]!.indexOf('nodejs'), out[2]!.indexOf('python'));
  assert.equal(describeAlias({ AliasArn: 'a', Name: 'live', FunctionVersion: '1' }), 'live -> 1');
  assert.equal(
    describeAlias({ AliasArn: 'a', Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.1 } } }),
    'live -> 1 (2: 10%)',
  );
});

test('runtime and handler defaults of deploy-function', () => {
  const f = (p: string, executable = false): PackageFile => ({ path: p, executable });
  const cases: Array<[string, PackageFile[], { runtime?: string; handler?: string }, { runtime: string; handler: string }]> = [
    ['node files', [f('index.js'), f('lib/a.js')], {}, { runtime: 'nodejs20.x', handler: 'index.handler' }],
    ['esm', [f('index.mjs')], {}, { runtime: 'nodejs20.x', handler: 'index.handler' }],
    ['nothing recognisable', [f('README.md')], {}, { runtime: 'nodejs20.x', handler: 'index.handler' }],
    ['python, console name', [f('lambda_function.py'), f('util/x.py')], {}, { runtime: 'python3.12', handler: 'lambda_function.lambda_handler' }],
    ['python, other name', [f('index.py')], {}, { runtime: 'python3.12', handler: 'index.handler' }],
    ['python + js is node', [f('index.js'), f('tool.py')], {}, { runtime: 'nodejs20.x', handler: 'index.handler' }],
    ['executable bootstrap', [f('bootstrap', true), f('index.js')], {}, { runtime: 'provided.al2023', handler: 'index.handler' }],
    ['bootstrap not executable', [f('bootstrap'), f('main.py')], {}, { runtime: 'python3.12', handler: 'index.handler' }],
    ['bootstrap not at the top', [f('bin/bootstrap', true)], {}, { runtime: 'nodejs20.x', handler: 'index.handler' }],
    ['explicit runtime decides the handler', [f('lambda_function.py'), f('index.js')], { runtime: 'python3.11' }, { runtime: 'python3.11', handler: 'lambda_function.lambda_handler' }],
    ['explicit both', [f('index.js')], { runtime: 'nodejs22.x', handler: 'app.main' }, { runtime: 'nodejs22.x', handler: 'app.main' }],
  ];
  for (const [name, files, given, want] of cases) assert.deepEqual(inferDefaults(files, given), want, name);
});

test('package listing: directories (execute bits, skipped folders) and zips', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cli-pkg-'));
  try {
    fs.writeFileSync(path.join(dir, 'bootstrap'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'main.py'), 'x = 1\n');
    fs.mkdirSync(path.join(dir, 'node_modules', 'dep'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'node_modules', 'dep', 'index.js'), '');
    fs.mkdirSync(path.join(dir, 'pkg'));
    fs.writeFileSync(path.join(dir, 'pkg', 'mod.py'), '');
    const files = listDirectory(dir).sort((a, b) => a.path.localeCompare(b.path));
    assert.deepEqual(files, [
      { path: 'bootstrap', executable: true },
      { path: 'main.py', executable: false },
      { path: 'pkg/mod.py', executable: false },
    ]);
    const zip = await makeZip({ bootstrap: { content: '#!/bin/sh\n', mode: 0o755 }, 'src/app.js': 'x' });
    assert.deepEqual(await listZip(zip), [{ path: 'bootstrap', executable: true }, { path: 'src/app.js', executable: false }]);
    const zipFile = path.join(dir, 'code.zip');
    fs.writeFileSync(zipFile, zip);
    const loaded = await loadPackage(zipFile);
    assert.equal(loaded.kind, 'zip');
    assert.ok(loaded.zip.equals(zip));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
    await assert.rejects(loadPackage(path.join(dir, 'notes.txt')), (e: unknown) => e instanceof CliError && /neither a directory nor a zip file/.test(e.message));
    await assert.rejects(loadPackage(path.join(dir, 'missing')), /no such file or directory/);
    fs.mkdirSync(path.join(dir, 'empty'));
    await assert.rejects(loadPackage(path.join(dir, 'empty')), /empty directory/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('option parsers: integers, KEY=VALUE, alias weights', () => {
  const port = intArg(0, 65535);
  assert.equal(port('0'), 0);
  assert.equal(port('9070'), 9070);
  assert.throws(() => port('70000'), InvalidArgumentError);
  assert.throws(() => port('12.5'), InvalidArgumentError);
  assert.throws(() => port('abc'), InvalidArgumentError);
  assert.deepEqual(parseKeyValues(['A=1', 'B=', 'URL=http://x?a=b'], '--env'), { A: '1', B: '', URL: 'http://x?a=b' });
  assert.throws(() => parseKeyValues(['=x'], '--env'), InvalidArgumentError);
  assert.throws(() => parseKeyValues(['novalue'], '--env'), /KEY=VALUE/);
  const env = keyValueArg('--env');
  assert.deepEqual(env('B=2', env('A=1')), { A: '1', B: '2' });
  assert.deepEqual(parseWeights(['2=0.1', '3=0']), { '2': 0.1, '3': 0 });
  assert.deepEqual(weightArg('3=0.25', weightArg('2=0.5')), { '2': 0.5, '3': 0.25 });
  for (const bad of ['2=1.5', '2=-0.1', '2=', '2=x', '$LATEST=0.1', 'live=0.1', '0.1']) {
    assert.throws(() => parseWeights([bad]), InvalidArgumentError, bad);
  }
});

test('endpoints and query strings', () => {
  assert.equal(normalizeEndpoint('http://127.0.0.1:9070/'), 'http://127.0.0.1:9070');
  assert.equal(normalizeEndpoint('https://example.test'), 'https://example.test');
  assert.throws(() => normalizeEndpoint('127.0.0.1:9070'), (e: unknown) => e instanceof CliError && e.exitCode === 2);
  assert.throws(() => normalizeEndpoint('ftp://x'), /only http and https/);
  assert.equal(queryString({}), '');
  assert.equal(queryString({ Qualifier: undefined, Marker: '' }), '');
  assert.equal(queryString({ Qualifier: '$LATEST', MaxItems: 50 }), '?Qualifier=%24LATEST&MaxItems=50');
});

test('errors from responses: REST header, JSON __type, non-JSON bodies', () => {
  const h = (o: Record<string, string> = {}) => new Headers(o);
  let e = errorFromResponse(404, h({ 'x-amzn-ErrorType': 'ResourceNotFoundException' }), JSON.stringify({ Type: 'User', message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope' }));
  assert.equal(e.code, 'ResourceNotFoundException');
  assert.equal(errorLine(e), 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope (ResourceNotFoundException)');
  e = errorFromResponse(400, h({ 'x-amzn-ErrorType': 'InvalidParameterValueException:http://internal.amazon.com/coral/' }), '{"Message":"bad memory"}');
  assert.equal(errorLine(e), 'bad memory (InvalidParameterValueException)');
  e = errorFromResponse(400, h(), '{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}');
  assert.equal(errorLine(e), 'The specified queue does not exist. (QueueDoesNotExist)');
  e = errorFromResponse(502, h(), '<html>\nBad gateway\n</html>', 'Bad Gateway');
  assert.equal(errorLine(e), '<html> (HTTP 502)');
  e = errorFromResponse(500, h(), '', 'Internal Server Error');
  assert.equal(errorLine(e), 'Internal Server Error (HTTP 500)');
  assert.equal(errorLine(new StratusError('X', 400, 'two\n  lines')), 'two lines (X)');
  assert.equal(errorLine(new CliError('plain')), 'plain');
  assert.equal(exitCodeOf(new CliError('usage', 2)), 2);
  assert.equal(exitCodeOf(new Error('x')), 1);
});

test('log lines and follow dedupe', () => {
  const ev = (id: string, ts: number, message = 'm\n') => ({ eventId: id, timestamp: ts, message, logStreamName: '2026/11/22/[$LATEST]abc' });
  assert.equal(formatLogEvent(ev('1', NOW, 'hello world\n')), '2026-11-22T12:00:00.000Z 2026/11/22/[$LATEST]abc hello world');
  assert.equal(formatLogEvent(ev('1', NOW, 'two\nlines')), '2026-11-22T12:00:00.000Z 2026/11/22/[$LATEST]abc two\nlines');
  const d = new EventDeduper();
  assert.equal(d.fresh(ev('a', 1)), true);
  assert.equal(d.fresh(ev('b', 5)), true);
  assert.equal(d.fresh(ev('a', 1)), false);
  d.forgetBefore(3);
  assert.equal(d.size, 1);
  assert.equal(d.fresh(ev('b', 5)), false);
});

test('payloads and function errors', async () => {
  assert.equal((await readPayload('{"a":1}')).toString(), '{"a":1}');
  assert.equal((await readPayload('')).toString(), '{}');
  await assert.rejects(readPayload('{nope'), /not valid JSON/);
  await assert.rejects(readPayload('@/definitely/not/here.json'), /cannot read the payload file \/definitely\/not\/here\.json: ENOENT/);
  const f = path.join(os.tmpdir(), `stratus-cli-payload-${process.pid}.json`);
  fs.writeFileSync(f, '{"from":"file"}');
  try {
    assert.equal((await readPayload(`@${f}`)).toString(), '{"from":"file"}');
  } finally {
    fs.rmSync(f, { force: true });
  }
  assert.equal(describeFunctionError(Buffer.from('{"errorType":"Error","errorMessage":"boom","trace":[]}')), 'Error: boom');
  assert.equal(describeFunctionError(Buffer.from('{"errorType":"Sandbox.Timedout"}')), 'Sandbox.Timedout');
  assert.equal(describeFunctionError(Buffer.from('oops')), 'oops');
});

test('sample recipes name the real endpoint', () => {
  const [npx, aws, creds] = sampleRecipes('http://127.0.0.1:4321', 'eu-west-1');
  assert.equal(npx, `  npx stratus invoke hello --payload '{"name":"you"}' --endpoint http://127.0.0.1:4321`);
  assert.equal(aws, `  aws lambda invoke --endpoint-url http://127.0.0.1:4321 --function-name hello --payload '{"name":"you"}' --cli-binary-format raw-in-base64-out out.json`);
  assert.match(creds!, /AWS_ACCESS_KEY_ID=test .*AWS_DEFAULT_REGION=eu-west-1/);
  assert.equal(sampleRecipes('http://127.0.0.1:9070', 'us-east-1')[0], `  npx stratus invoke hello --payload '{"name":"you"}'`);
});
