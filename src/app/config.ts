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
  /**
   * Age after which an on-demand environment is ended once idle, even when invoked continuously
   * (Lambda: "every few hours ... even for functions that are invoked continuously").
   */
  envMaxLifetimeMs: number;
  /** How often unpacked code nothing uses any more is looked for (it goes at the second sweep that finds it unused). */
  codeSweepMs: number;
  /** Sandbox driver: auto picks namespaces+cgroups when the host allows, else a plain process. */
  sandbox: 'auto' | 'namespace' | 'process';
  /**
   * Whether the namespace driver turns on the kernel's cgroup `favordynmods` mode while it runs,
   * so that moving an environment into its cgroups does not wait for an RCU grace period
   * (environments/sandbox/cgroups.ts). Default true.
   */
  cgroupFavorDynmods?: boolean;
  /**
   * Host directories every environment may write to, at their own paths, where the namespace
   * driver has the rest of the file system read-only but /tmp (as Lambda's): shared by all
   * functions and the host, as an EFS file system would be. None by default.
   */
  sharedDirs?: string[];
  /** Prewarmed runtime processes kept per runtime (0 disables the pool). */
  prewarmPerRuntime: number;
  /** Multiplies async retry waits (tests use small values). Defaults to 1: Lambda's waits. */
  asyncTimeScale: number;
  /** Multiplies rate() schedule periods (tests use small values; cron follows the real clock). Default 1. */
  scheduleTimeScale?: number;
  /** Async invocations run at once at most (the async engine's workers). Default: the account concurrency. */
  asyncConcurrency?: number;
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

const SANDBOXES = ['auto', 'namespace', 'process'] as const;
const SANDBOX_API_ACCESS = ['restricted', 'full'] as const;

/** A choice from the environment: `fallback` when unset or empty, else one of `allowed`. */
function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`${name} must be one of ${allowed.join(', ')}, not "${value}"`);
}

/**
 * A number from the environment: `fallback` when unset or empty, else a finite number at least
 * `min` (above it when `above`). A typo must stop the start: NaN or a negative limit would be
 * taken silently and fail later, far from its cause (every invoke throttled, null account limits).
 */
function numberFrom(name: string, value: string | undefined, fallback: number, what: string, min: number, above = false): number {
  if (value === undefined || value === '') return fallback;
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n < min || (above && n === min)) throw new Error(`${name} must be ${what}, not "${value}"`);
  return n;
}

/** A whole number from the environment: `fallback` when unset or empty, else an integer in [min, max]. */
function intFrom(name: string, value: string | undefined, fallback: number, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === '') return fallback;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${name} must be ${what}, not "${value}"`);
  return n;
}

/** Absolute paths separated by ":" from the environment (none when unset or empty). */
function pathsFrom(name: string, value: string | undefined): string[] {
  const paths = (value ?? '').split(':').filter((p) => p !== '');
  const bad = paths.find((p) => !path.isAbsolute(p));
  if (bad !== undefined) throw new Error(`${name} must be absolute paths separated by ":", not "${value}"`);
  return paths;
}

/** Sized for the machine unless told: Lambda's default is 1000; a small host cannot run that many processes at once. */
function accountConcurrencyFrom(value: string | undefined): number {
  // One 128 MB environment per 128 MB of RAM, capped.
  const sized = Math.max(10, Math.min(1000, Math.floor(os.totalmem() / (128 * 1024 * 1024))));
  return intFrom('STRATUS_ACCOUNT_CONCURRENCY', value, sized, 'a whole number (1 or more)', 1);
}

/**
 * The unreserved minimum the account keeps. One set above the account's concurrency would refuse
 * every PutFunctionConcurrency; the default (100, as Lambda's) may be, on a small host, and is kept.
 */
function unreservedMinFrom(value: string | undefined, accountConcurrency: number): number {
  const min = intFrom('STRATUS_UNRESERVED_MIN', value, 100, 'a whole number (0 or more)', 0);
  if (value !== undefined && value !== '' && min > accountConcurrency) {
    throw new Error(`STRATUS_UNRESERVED_MIN must be at most the account concurrency (${accountConcurrency}, STRATUS_ACCOUNT_CONCURRENCY), not "${value}"`);
  }
  return min;
}

export function defaultConfig(): StratusConfig {
  const env = process.env;
  const accountConcurrency = accountConcurrencyFrom(env.STRATUS_ACCOUNT_CONCURRENCY);
  return {
    host: env.STRATUS_HOST ?? '127.0.0.1',
    port: intFrom('STRATUS_PORT', env.STRATUS_PORT, 9070, 'a port number (0 to 65535)', 0, 65535),
    dataDir: path.resolve(env.STRATUS_DATA_DIR ?? '.stratus'),
    region: env.STRATUS_REGION ?? 'us-east-1',
    accountId: env.STRATUS_ACCOUNT_ID ?? '000000000000',
    insecure: false,
    databaseUrl: env.STRATUS_DATABASE_URL || undefined,
    natsUrl: env.STRATUS_NATS_URL || undefined,
    accountConcurrency,
    unreservedConcurrencyMin: unreservedMinFrom(env.STRATUS_UNRESERVED_MIN, accountConcurrency),
    idleTimeoutMs: intFrom('STRATUS_IDLE_TIMEOUT_MS', env.STRATUS_IDLE_TIMEOUT_MS, 10 * 60 * 1000, 'a whole number of milliseconds (1 or more)', 1),
    // A timer's longest delay; past it node fires at once (every millisecond).
    codeSweepMs: intFrom('STRATUS_CODE_SWEEP_MS', env.STRATUS_CODE_SWEEP_MS, 5 * 60 * 1000, 'a whole number of milliseconds from 100 to 2147483647', 100, 2 ** 31 - 1),
    envMaxLifetimeMs: intFrom('STRATUS_ENV_MAX_LIFETIME_MS', env.STRATUS_ENV_MAX_LIFETIME_MS, 2 * 60 * 60 * 1000, 'a whole number of milliseconds (1 or more)', 1),
    sandbox: oneOf('STRATUS_SANDBOX', env.STRATUS_SANDBOX, SANDBOXES, 'auto'),
    cgroupFavorDynmods: env.STRATUS_CGROUP_FAVORDYNMODS !== '0',
    sharedDirs: pathsFrom('STRATUS_SHARED_DIRS', env.STRATUS_SHARED_DIRS),
    prewarmPerRuntime: intFrom('STRATUS_PREWARM', env.STRATUS_PREWARM, 2, 'a whole number (0 or more)', 0),
    asyncTimeScale: numberFrom('STRATUS_ASYNC_TIME_SCALE', env.STRATUS_ASYNC_TIME_SCALE, 1, 'a number greater than 0', 0, true),
    scheduleTimeScale: numberFrom('STRATUS_SCHEDULE_TIME_SCALE', env.STRATUS_SCHEDULE_TIME_SCALE, 1, 'a number greater than 0', 0, true),
    asyncConcurrency: intFrom('STRATUS_ASYNC_CONCURRENCY', env.STRATUS_ASYNC_CONCURRENCY, accountConcurrency, 'a whole number (1 or more)', 1),
    codeStorageLimitBytes: 75 * 1024 * 1024 * 1024,
    sandboxApiAccess: oneOf('STRATUS_SANDBOX_API_ACCESS', env.STRATUS_SANDBOX_API_ACCESS, SANDBOX_API_ACCESS, 'restricted'),
    functionCredentials: oneOf('STRATUS_FUNCTION_CREDENTIALS', env.STRATUS_FUNCTION_CREDENTIALS, FUNCTION_CREDENTIALS, 'session'),
    shutdownGraceMs: numberFrom('STRATUS_SHUTDOWN_GRACE_MS', env.STRATUS_SHUTDOWN_GRACE_MS, 30_000, 'a number of milliseconds (0 or more)', 0),
  };
}
