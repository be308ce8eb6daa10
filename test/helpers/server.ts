import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StratusConfig } from '../../src/app/config.js';
import { createStratus, type Stratus } from '../../src/app/index.js';

export interface TestServer {
  /** http://127.0.0.1:PORT — pass as endpoint to AWS SDK clients. */
  endpoint: string;
  dataDir: string;
  stratus: Stratus;
  /** Stops the server; removes the data dir unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/** Credentials and region for AWS SDK v3 clients pointed at a test server. */
export function clientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
}

/** Starts a real Stratus server on a random loopback port with a fresh data dir. */
export async function startServer(overrides: Partial<StratusConfig> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
  const stratus = await createStratus({ port: 0, host: '127.0.0.1', prewarmPerRuntime: 0, idleTimeoutMs: 60_000, ...overrides, dataDir });
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

/** Where tests share directories with functions under the namespace sandbox (see sharedBase). */
const SHARED_ROOT = '/run/stratus-test-shared';

/**
 * Where a test makes a directory that functions and the test share: inside a namespace environment
 * the host's file system is read-only but for /tmp, which is the environment's own (and /var/tmp,
 * /run/lock are hidden), so as root it is under a directory of /run (root's) that the servers the
 * test starts share with their functions (sharedConfig); without root, functions are plain
 * processes and the temp dir is shared.
 */
export function sharedBase(): string {
  if (process.getuid?.() !== 0 || !fs.existsSync('/run')) return os.tmpdir();
  fs.mkdirSync(SHARED_ROOT, { recursive: true, mode: 0o755 });
  return SHARED_ROOT;
}

/** The setting a server needs for its functions to write under sharedBase() (STRATUS_SHARED_DIRS). */
export function sharedConfig(): Pick<StratusConfig, 'sharedDirs'> {
  return process.getuid?.() === 0 ? { sharedDirs: [sharedBase()] } : {};
}

/**
 * The ways an environment is started, for suites that run once per way: the namespace sandbox
 * with a prewarmed runtime and with one started for the function, and the process sandbox.
 */
export const SANDBOX_MODES: ReadonlyArray<{ label: string; config: { prewarmPerRuntime?: number; sandbox?: 'process' } }> = [
  { label: 'namespace sandbox, prewarmed runtimes', config: { prewarmPerRuntime: 1 } },
  { label: 'namespace sandbox, runtimes started per function', config: { prewarmPerRuntime: 0 } },
  { label: 'process sandbox', config: { sandbox: 'process' } },
];
