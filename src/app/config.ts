import os from 'node:os';
import path from 'node:path';

/** Everything Stratus can be told. CLI flags and environment variables feed this. */
export interface StratusConfig {
  host: string;
  port: number;
  /** Data directory: SQLite database, code blobs, unpacked code, logs. */
  dataDir: string;
  region: string;
  accountId: string;
  /** Allow binding to a non-loopback address before authentication exists. */
  insecure: boolean;
  /** Postgres connection string: cluster metadata store (SQLite when absent). */
  databaseUrl?: string;
  /** NATS URL: cluster queue / change feed / blobs (embedded when absent). */
  natsUrl?: string;
  /** Account-wide concurrency limit. */
  accountConcurrency: number;
  /** Concurrency that PutFunctionConcurrency must leave unreserved. */
  unreservedConcurrencyMin: number;
  /** Idle time after which a warm environment is reaped. */
  idleTimeoutMs: number;
  /** Sandbox driver: auto picks namespaces+cgroups when the host allows, else a plain process. */
  sandbox: 'auto' | 'namespace' | 'process';
  /**
   * Whether the namespace driver turns on the kernel's cgroup `favordynmods` mode while it runs,
   * so that moving an environment into its cgroups does not wait for an RCU grace period
   * (environments/sandbox/cgroups.ts). Default true.
   */
  cgroupFavorDynmods?: boolean;
  /** Prewarmed runtime processes kept per runtime (0 disables the pool). */
  prewarmPerRuntime: number;
  /** Multiplies async retry waits (tests use small values). Defaults to 1: Lambda's waits. */
  asyncTimeScale: number;
  /** Multiplies rate() schedule periods (tests use small values; cron follows the real clock). Default 1. */
  scheduleTimeScale?: number;
  /** Maximum total code storage (CodeStorageExceededException beyond). */
  codeStorageLimitBytes: number;
  /**
   * What code inside execution environments may ask of Stratus's APIs: 'restricted' (invoke,
   * queues, events, log writes; see api/sandbox-access.ts) or 'full' (everything, as any local
   * caller). Needs a driver that gives environments their own uids to tell them apart.
   */
  sandboxApiAccess: 'restricted' | 'full';
  /**
   * The credentials functions find in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
   * where Lambda puts the execution role's: 'session' (fresh placeholder session credentials per
   * environment, which Stratus's APIs accept and AWS refuses), 'none' (no variables: an SDK's
   * credential chain goes on to what the host offers, such as an EC2 instance role) or 'host'
   * (the server's own AWS_* credential variables, given to every function).
   */
  functionCredentials: FunctionCredentials;
  /**
   * How long a stop (SIGTERM, Ctrl-C) waits for the requests in flight, synchronous invocations
   * among them, before it cuts their connections and ends their environments. Default 30 s.
   */
  shutdownGraceMs?: number;
}

export const FUNCTION_CREDENTIALS = ['session', 'none', 'host'] as const;
export type FunctionCredentials = (typeof FUNCTION_CREDENTIALS)[number];

function functionCredentialsFrom(value: string | undefined): FunctionCredentials {
  if (value === undefined || value === '') return 'session';
  if ((FUNCTION_CREDENTIALS as readonly string[]).includes(value)) return value as FunctionCredentials;
  throw new Error(`STRATUS_FUNCTION_CREDENTIALS must be one of ${FUNCTION_CREDENTIALS.join(', ')}, not "${value}"`);
}

function graceFrom(value: string | undefined): number {
  if (value === undefined || value === '') return 30_000;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`STRATUS_SHUTDOWN_GRACE_MS must be a number of milliseconds (0 or more), not "${value}"`);
  return ms;
}

export function defaultConfig(): StratusConfig {
  const env = process.env;
  return {
    host: env.STRATUS_HOST ?? '127.0.0.1',
    port: env.STRATUS_PORT ? Number(env.STRATUS_PORT) : 9070,
    dataDir: path.resolve(env.STRATUS_DATA_DIR ?? '.stratus'),
    region: env.STRATUS_REGION ?? 'us-east-1',
    accountId: env.STRATUS_ACCOUNT_ID ?? '000000000000',
    insecure: false,
    databaseUrl: env.STRATUS_DATABASE_URL || undefined,
    natsUrl: env.STRATUS_NATS_URL || undefined,
    // Sized for the machine: Lambda's default is 1000; a small host cannot run that many
    // processes at once, so scale with memory (one 128 MB environment per 128 MB of RAM, capped).
    accountConcurrency: env.STRATUS_ACCOUNT_CONCURRENCY
      ? Number(env.STRATUS_ACCOUNT_CONCURRENCY)
      : Math.max(10, Math.min(1000, Math.floor(os.totalmem() / (128 * 1024 * 1024)))),
    unreservedConcurrencyMin: env.STRATUS_UNRESERVED_MIN ? Number(env.STRATUS_UNRESERVED_MIN) : 100,
    idleTimeoutMs: env.STRATUS_IDLE_TIMEOUT_MS ? Number(env.STRATUS_IDLE_TIMEOUT_MS) : 10 * 60 * 1000,
    sandbox: (env.STRATUS_SANDBOX as StratusConfig['sandbox']) ?? 'auto',
    cgroupFavorDynmods: env.STRATUS_CGROUP_FAVORDYNMODS !== '0',
    prewarmPerRuntime: env.STRATUS_PREWARM ? Number(env.STRATUS_PREWARM) : 2,
    asyncTimeScale: env.STRATUS_ASYNC_TIME_SCALE ? Number(env.STRATUS_ASYNC_TIME_SCALE) : 1,
    codeStorageLimitBytes: 75 * 1024 * 1024 * 1024,
    sandboxApiAccess: env.STRATUS_SANDBOX_API_ACCESS === 'full' ? 'full' : 'restricted',
    functionCredentials: functionCredentialsFrom(env.STRATUS_FUNCTION_CREDENTIALS),
    shutdownGraceMs: graceFrom(env.STRATUS_SHUTDOWN_GRACE_MS),
  };
}
