import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig, type StratusConfig } from '../../src/app/config.js';
import type { FunctionConfig } from '../../src/core/model.js';
import { createExecutionService, type ExecutionServiceOptions, type StratusExecutionService } from '../../src/environments/index.js';
import type { ExecutionTarget, Invocation } from '../../src/ports/execution.js';
import type { LogEvent, LogSink } from '../../src/ports/logs.js';

export const isRoot = process.getuid?.() === 0;

/** A LogSink that keeps everything in memory (what observe/logs would persist). */
export class MemorySink implements LogSink {
  readonly events: { group: string; stream: string; e: LogEvent }[] = [];
  write(group: string, stream: string, events: LogEvent[]): void {
    for (const e of events) this.events.push({ group, stream, e });
  }
  text(stream?: string): string {
    return this.events.filter((x) => !stream || x.stream === stream).map((x) => x.e.message).join('');
  }
  streams(): string[] {
    return [...new Set(this.events.map((x) => x.stream))];
  }
}

/**
 * A bash + curl custom runtime. It sources ./handler.sh for each event: `handle EVENT REQID`
 * prints the response on stdout; a non-zero status posts an error; `exit` ends the runtime itself.
 */
export const BASH_BOOTSTRAP = `#!/bin/bash
set -u
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
source ./handler.sh
while true; do
  H=$(mktemp)
  EVENT=$(curl -sS -D "$H" "$API/invocation/next")
  REQ=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$H" | tr -d '\\r' | cut -d' ' -f2)
  DEADLINE=$(grep -i '^Lambda-Runtime-Deadline-Ms:' "$H" | tr -d '\\r' | cut -d' ' -f2)
  ARN=$(grep -i '^Lambda-Runtime-Invoked-Function-Arn:' "$H" | tr -d '\\r' | cut -d' ' -f2)
  TRACE=$(grep -i '^Lambda-Runtime-Trace-Id:' "$H" | tr -d '\\r' | cut -d' ' -f2)
  export REQ DEADLINE ARN TRACE
  rm -f "$H"
  if handle "$EVENT" "$REQ" > "\${TMPDIR:-/tmp}/.out"; then
    curl -sS -o /dev/null -X POST "$API/invocation/$REQ/response" --data-binary @"\${TMPDIR:-/tmp}/.out"
  else
    curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Custom.Failed' "$API/invocation/$REQ/error" \\
      --data-binary "{\\"errorMessage\\":\\"handler failed\\",\\"errorType\\":\\"Custom.Failed\\",\\"stackTrace\\":[]}"
  fi
done
`;

let gidCounter = 3_900_000 + (process.pid % 1000) * 100;

export interface Fixture {
  dataDir: string;
  sink: MemorySink;
  svc: StratusExecutionService;
  /** Writes a code dir (files relative to it) and returns its codeKey. */
  code(files: Record<string, string | { text: string; mode: number }>): string;
  codeDir(key: string): string;
  /** Where functions see the code of `key`: /var/task under the namespace driver. */
  taskRoot(key: string): string;
  target(codeKey: string, cfg?: Partial<FunctionConfig>, name?: string, revisionId?: string): ExecutionTarget;
  stop(): Promise<void>;
}

export async function fixture(overrides: Partial<StratusConfig> = {}, extra: Pick<ExecutionServiceOptions, 'runtimeOverrides'> = {}): Promise<Fixture> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-env-'));
  fs.writeFileSync(path.join(dataDir, 'stratus.db'), 'SECRET-DB-CONTENT', { mode: 0o600 });
  const sink = new MemorySink();
  const config: StratusConfig = { ...defaultConfig(), dataDir, prewarmPerRuntime: 0, idleTimeoutMs: 60_000, ...overrides };
  const gids = new Map<string, number>();
  let n = 0;
  const codeDir = (key: string) => path.join(dataDir, 'code', key);
  // The process driver has no private /tmp: what the bash runtime writes there goes to the
  // fixture's own directory (TMPDIR), removed with it.
  const tmpDir = path.join(dataDir, 'tmp');
  if (config.sandbox === 'process') fs.mkdirSync(tmpDir, { mode: 0o1777 });
  const svc = await createExecutionService({
    config, logSink: sink, ...extra,
    async codeDirFor(key) { return { dir: codeDir(key), gid: gids.get(key) ?? null }; },
    // A function's layers: here one code dir made with code() stands for the merged layers.
    async layersDirFor(keys) {
      if (keys.length !== 1) throw new Error('the test fixture presents one code dir as a function\'s layers');
      return { dir: codeDir(keys[0]!), gid: gids.get(keys[0]!) ?? null };
    },
  });
  return {
    dataDir, sink, svc, codeDir,
    taskRoot: (key) => svc.taskRoot(codeDir(key)),
    code(files) {
      const key = `c${process.pid}x${n++}`;
      const dir = codeDir(key);
      fs.mkdirSync(dir, { recursive: true });
      for (const [rel, v] of Object.entries(files)) {
        const f = path.join(dir, rel);
        fs.mkdirSync(path.dirname(f), { recursive: true });
        const { text, mode } = typeof v === 'string' ? { text: v, mode: 0o644 } : v;
        fs.writeFileSync(f, text, { mode });
        fs.chmodSync(f, mode);
      }
      if (isRoot) {
        const gid = gidCounter++;
        gids.set(key, gid);
        fs.chownSync(dir, 0, gid);
        fs.chmodSync(dir, 0o750);
      }
      return key;
    },
    target(codeKey, cfg = {}, name = 'fn', revisionId = 'r1') {
      return {
        functionName: name, version: '$LATEST', functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
        codeKey, revisionId, logGroupName: `/aws/lambda/${name}`,
        config: {
          runtime: 'provided.al2023', handler: 'handler', role: 'arn:aws:iam::000000000000:role/r', memorySize: 128, timeout: 3,
          description: '', environment: {}, ephemeralStorage: 512, architectures: ['x86_64'], packageType: 'Zip',
          deadLetterTargetArn: null, tracingMode: 'PassThrough', layers: [], loggingConfig: { logFormat: 'Text', logGroup: null },
          ...(config.sandbox === 'process' ? { environment: { TMPDIR: tmpDir } } : {}), ...cfg,
        },
      };
    },
    async stop() {
      await svc.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let reqN = 0;
export function invocation(payload: string, extra: Partial<Invocation> = {}): Invocation {
  const id = `00000000-0000-4000-8000-${String(++reqN).padStart(6, '0')}${String(process.pid % 1000000).padStart(6, '0')}`;
  return {
    requestId: id, payload: Buffer.from(payload), invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
    traceId: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0', wantLogTail: true, ...extra,
  };
}

/** A bash custom-runtime code dir with the given handler body. */
export function bashFunction(handlerBody: string, extra: Record<string, string | { text: string; mode: number }> = {}) {
  return {
    bootstrap: { text: BASH_BOOTSTRAP, mode: 0o755 },
    'handler.sh': `handle() {\n${handlerBody}\n}\n`,
    ...extra,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids of processes running under a uid (from /proc). */
export function pidsOfUid(uid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/status`, 'utf8');
      const m = /\nUid:\s+(\d+)/.exec(s);
      if (m && Number(m[1]) === uid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/** The protocol-following stand-in runtime (test/environments/fixtures/mini-runtime.ts). */
export function miniRuntime() {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');
  return { command: [process.execPath, path.join(dir, 'mini-runtime.js')], runtimeDir: dir };
}

/** Loop devices whose backing file is under `dir`. */
export function loopDevicesOf(dir: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync('/sys/block')) {
    try {
      if (fs.readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').startsWith(dir + path.sep)) out.push(d);
    } catch { /* not a loop device, or detached */ }
  }
  return out;
}
