import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqlEventQueue } from '../../src/adapters/sql/event-queue.js';
import { createStratus } from '../../src/app/index.js';
import type { StratusConfig } from '../../src/app/config.js';
import type { StratusModule } from '../../src/app/module.js';
import { featureModules } from '../../src/app/modules.js';
import { asyncInvokeModule } from '../../src/invoke/async/index.js';
import { eventsModule } from '../../src/triggers/events/index.js';
import type { TestServer } from '../helpers/server.js';

export { waitFor } from './wait.js';

/** The feature modules, with the async and events modules added when the composition root does not list them yet. */
export function modulesWithAsync(): StratusModule[] {
  const mods = featureModules();
  if (!mods.some((m) => m.name === 'async-invoke')) mods.push(asyncInvokeModule({ queue: (ctx) => new SqlEventQueue(ctx.sql) }));
  if (!mods.some((m) => m.name === 'events')) mods.push(eventsModule());
  return mods;
}

/** startServer() (test/helpers/server.ts) with the async and events modules guaranteed. */
export async function startAsyncServer(overrides: Partial<StratusConfig> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
  const stratus = await createStratus(
    { port: 0, host: '127.0.0.1', prewarmPerRuntime: 0, idleTimeoutMs: 60_000, ...overrides, dataDir },
    modulesWithAsync(),
  );
  const { url } = await stratus.start();
  return {
    endpoint: url,
    dataDir,
    stratus,
    async stop(opts) {
      await stratus.stop();
      if (!opts?.keepData && !overrides.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A directory and file every uid can write (functions run as other uids, and the namespace
 * sandbox gives them a private /tmp, so this lives under /var/tmp).
 */
export function sharedDir(): { dir: string; file(name: string): string; lines(name: string): string[]; cleanup(): void } {
  const base = fs.existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir();
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
