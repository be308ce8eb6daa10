import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { serviceMissing } from '../helpers/services.js';
import { eventually, run, up } from './helpers.js';

test('up --sample creates hello, prints both invoke recipes, and both of them work', async (t) => {
  const s = await up({ args: ['--sample'] });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cli-sample-'));
  try {
    const out = await eventually('the sample recipes', async () => (/aws CLI v1/.test(s.stdout()) ? s.stdout() : undefined), 60_000);
    assert.match(out, /Sample function "hello" created \(nodejs20\.x\)/);
    const npx = /^ {2}npx stratus (invoke hello .*)$/m.exec(out);
    assert.ok(npx, out);
    assert.equal(npx[1], `invoke hello --payload '{"name":"you"}' --endpoint ${s.url}`);
    const awsLine = /^ {2}(aws lambda invoke .*)$/m.exec(out)?.[1];
    assert.equal(awsLine, `aws lambda invoke --endpoint-url ${s.url} --function-name hello --payload '{"name":"you"}' --cli-binary-format raw-in-base64-out out.json`);
    assert.match(out, /AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1/);

    // This CLI's recipe (the arguments after `npx stratus`).
    const r = await run(['invoke', 'hello', '--payload', '{"name":"you"}', '--endpoint', s.url]);
    assert.equal(r.code, 0, r.stderr);
    const answer = JSON.parse(r.stdout);
    assert.equal(answer.message, 'Hello, you!');
    assert.deepEqual(answer.event, { name: 'you' });

    // A second `up --sample` on the same data dir finds it and does not fail.
    await s.stop();
    const again = await up({ dataDir: s.dataDir, args: ['--sample'] });
    try {
      await eventually('the recipes again', async () => (/already exists/.test(again.stdout()) && /aws CLI v1/.test(again.stdout()) ? true : undefined), 60_000);
      assert.equal(again.stderr().includes('could not create'), false, again.stderr());
      // The aws CLI recipe, exactly as printed, with the credentials it mentions.
      const awsRecipe = /^ {2}(aws lambda invoke .*)$/m.exec(again.stdout())![1]!;
      if (spawnSync('aws', ['--version']).error) {
        serviceMissing(t, 'the aws CLI', 'not on PATH');
        return;
      }
      // aws CLI v1 takes the payload as it is and knows no --cli-binary-format (the note says so).
      const version = spawnSync('aws', ['--version'], { encoding: 'utf8' });
      const v1 = /^aws-cli\/1\./.test(`${version.stdout}${version.stderr}`);
      assert.match(again.stdout(), /aws CLI v1 has no --cli-binary-format: leave out "--cli-binary-format raw-in-base64-out"/);
      const command = v1 ? awsRecipe.replace(' --cli-binary-format raw-in-base64-out', '') : awsRecipe;
      const aws = spawnSync('sh', ['-c', command], {
        cwd: work,
        encoding: 'utf8',
        env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
      });
      assert.equal(aws.status, 0, aws.stderr);
      assert.equal(JSON.parse(aws.stdout).StatusCode, 200);
      assert.equal(JSON.parse(fs.readFileSync(path.join(work, 'out.json'), 'utf8')).message, 'Hello, you!');
    } finally {
      await again.stop();
    }
  } finally {
    await s.stop();
    fs.rmSync(s.dataDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
});
