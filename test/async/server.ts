import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StratusConfig } from '../../src/app/config.js';
import { sharedBase, sharedConfig, startServer, type TestServer } from '../helpers/server.js';

export { waitFor } from './wait.js';

/**
 * startServer() (test/helpers/server.ts): the composition root serves the async and events
 * modules. Its functions may write to sharedDir()'s directories.
 */
export function startAsyncServer(overrides: Partial<StratusConfig> = {}): Promise<TestServer> {
  return startServer({ ...sharedConfig(), ...overrides });
}

/**
 * A directory and file every uid can write (functions run as other uids, and the namespace
 * sandbox gives them a private /tmp and the rest read-only: see sharedBase), for servers started
 * with startAsyncServer.
 */
export function sharedDir(): { dir: string; file(name: string): string; lines(name: string): string[]; cleanup(): void } {
  const base = sharedBase();
  const dir = fs.mkdtempSync(path.join(base, 'stratus-async-'));
  fs.chmodSync(dir, 0o777);
  return {
    dir,
    file(name) {
      const f = path.join(dir, name);
      if (!fs.existsSync(f)) {
        fs.writeFileSync(f, '');
        fs.chmodSync(f, 0o666);
      }
      return f;
    },
    lines(name) {
      const f = path.join(dir, name);
      if (!fs.existsSync(f)) return [];
      return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A function body (index.js) that appends one JSON line per invocation to OUT and then behaves as told by the event. */
export const RECORDER = `
const fs = require('node:fs');
exports.handler = async (event, context) => {
  fs.appendFileSync(process.env.OUT, JSON.stringify({ id: context.awsRequestId, at: Date.now(), fn: context.functionName, version: context.functionVersion, event }) + '\\n');
  if (event && event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  if (event && event.fail) throw new Error(event.fail);
  return { ok: true, echo: event && event.tag };
};
`;

/**
 * A function body (index.js) whose first attempt of each event hangs (a node stopping cuts it
 * off) and whose next one succeeds: the first creates DIR/<request id>, and an attempt that
 * finishes appends the request id to DIR/done.
 */
export const HANG_FIRST = `
const fs = require('node:fs');
exports.handler = async (event, context) => {
  const mark = process.env.DIR + '/' + context.awsRequestId;
  if (!fs.existsSync(mark)) {
    fs.writeFileSync(mark, '');
    await new Promise((r) => setTimeout(r, 600000));
  }
  fs.appendFileSync(process.env.DIR + '/done', context.awsRequestId + '\\n');
  return { id: context.awsRequestId };
};
`;
