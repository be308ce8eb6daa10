import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { clientConfig, startServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';

/** The group of every code directory of a data dir. */
function codeGroups(dataDir: string): number[] {
  const root = path.join(dataDir, 'code');
  return fs.readdirSync(root).filter((n) => !n.startsWith('.')).map((n) => fs.statSync(path.join(root, n)).gid);
}

test('two servers on one host never give code directories the same group', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('code directories get groups of their own only when Stratus runs as root');
  // An environment is given its code directory's group: a second server handing out the same
  // group ids let its functions read the first server's code (its path and sha256 known).
  const a = await startServer();
  const b = await startServer();
  try {
    for (const s of [a, b]) {
      const lambda = new LambdaClient(clientConfig(s.endpoint));
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'f', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
        Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 1;' }) },
      }));
      await lambda.send(new InvokeCommand({ FunctionName: 'f' }));
    }
    const ga = codeGroups(a.dataDir);
    const gb = codeGroups(b.dataDir);
    assert.equal(ga.length, 1);
    assert.equal(gb.length, 1);
    assert.notEqual(ga[0], gb[0]);
  } finally {
    await a.stop();
    // Reopened by a server whose block is another: the directory gets a group of the new block.
    const keep = b.dataDir;
    await b.stop({ keepData: true });
    const c = await startServer();
    const d = await startServer({ dataDir: keep });
    try {
      const lambda = new LambdaClient(clientConfig(c.endpoint));
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'g', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
        Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 2;' }) },
      }));
      await lambda.send(new InvokeCommand({ FunctionName: 'g' }));
      const [gc] = codeGroups(c.dataDir);
      const [gd] = codeGroups(keep);
      assert.notEqual(gc, gd);
      assert.equal(Math.floor((gd! - 1_900_000_000) / 65_536) !== Math.floor((gc! - 1_900_000_000) / 65_536), true, 'in blocks of their own');
    } finally {
      await c.stop();
      await d.stop();
      fs.rmSync(keep, { recursive: true, force: true });
    }
  }
});
