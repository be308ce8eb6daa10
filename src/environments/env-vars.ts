import { randomBytes } from 'node:crypto';
import type { FunctionCredentials } from '../app/config.js';
import { RESERVED_ENV_KEYS } from '../core/env.js';
import type { ExecutionTarget, InitializationType } from '../ports/execution.js';
import type { RuntimeFamily } from './runtimes.js';
import { OPT_ROOT } from './sandbox/task-root.js';

/** Lambda's PATH, with its layers' bin/ under `optRoot` (/opt). */
export function lambdaPath(optRoot = OPT_ROOT): string {
  return `/usr/local/bin:/usr/bin/:/bin:${optRoot}/bin`;
}

/**
 * What a shipped runtime gets before it knows its function (it replaces its environment with the
 * function's once assigned, so none of this reaches the function). glibc's allocator is told to
 * keep few arenas and to give freed memory back instead of holding it: an idle warm Node
 * environment otherwise keeps ~3 MiB more private memory than it uses.
 */
export const BOOT_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: lambdaPath(),
  LANG: 'en_US.UTF-8',
  TZ: ':UTC',
  MALLOC_ARENA_MAX: '2',
  MALLOC_TRIM_THRESHOLD_: '262144',
  MALLOC_MMAP_THRESHOLD_: '262144',
});

/**
 * A shipped runtime's boot environment: BOOT_ENV, the descriptors its sandbox driver starts it
 * with (the framed log pipe, _STRATUS_LOG_FD, and the Runtime API channel, _STRATUS_API_FD; see
 * runtimes/PROTOCOL.md) and `extra`.
 */
export function runtimeBootEnv(fds: { logFd: number; apiFd: number }, extra: Record<string, string> = {}): Record<string, string> {
  return { ...BOOT_ENV, ...runtimeFds(fds), ...extra };
}

/** The variables naming the descriptors a shipped runtime is started with (it removes them as it boots). */
export function runtimeFds(fds: { logFd: number; apiFd: number }): Record<string, string> {
  return { _STRATUS_LOG_FD: String(fds.logFd), _STRATUS_API_FD: String(fds.apiFd) };
}

/** Where Lambda's X-Ray daemon listens, as its environment variables say. */
const XRAY_DAEMON_IP = '169.254.79.129';
const XRAY_DAEMON_PORT = '2000';

/** Variables a function's own configuration cannot override (Lambda's reserved keys). */
export const RESERVED = RESERVED_ENV_KEYS;

/**
 * The complete environment of a function, built from scratch: nothing of the server's own
 * environment is inherited.
 */
export function functionEnv(t: ExecutionTarget, o: {
  family: RuntimeFamily; region: string; runtimeApi: string; taskRoot: string; runtimeDir: string; logStream: string;
  /** Where the function sees its layers: /opt, or their host path where the sandbox cannot present them there. */
  optRoot?: string;
  /** What an AWS SDK in the function needs to reach Stratus (`awsClientVars`). */
  client?: AwsClientVars;
  /** AWS_LAMBDA_INITIALIZATION_TYPE: on-demand unless said. */
  initializationType?: InitializationType;
}): Record<string, string> {
  const c = t.config;
  const opt = o.optRoot ?? OPT_ROOT;
  // A language runtime's image has its interpreter under /var/lang, first in both paths (the
  // nodejs and python images: PATH=/var/lang/bin:..., LD_LIBRARY_PATH=/var/lang/lib:...); an
  // OS-only runtime's (provided.*) has none. Stratus's interpreters are the host's, so the
  // directory is empty here, but a function sees the values it sees in Lambda.
  const lang = o.family === 'custom' ? '' : '/var/lang/';
  const env: Record<string, string> = {
    PATH: `${lang ? `${lang}bin:` : ''}${lambdaPath(opt)}`,
    LANG: 'en_US.UTF-8',
    LD_LIBRARY_PATH: `${lang ? `${lang}lib:` : ''}/lib64:/usr/lib64:${o.runtimeDir}:${o.runtimeDir}/lib:${o.taskRoot}:${o.taskRoot}/lib:${opt}/lib`,
  };
  if (o.family === 'node') {
    // Lambda's, version directory of layers first (/opt/nodejs/node20/node_modules for nodejs20.x).
    const major = /^nodejs(\d+)\.x$/.exec(c.runtime ?? '')?.[1];
    env.NODE_PATH = `${major ? `${opt}/nodejs/node${major}/node_modules:` : ''}${opt}/nodejs/node_modules:${o.runtimeDir}/node_modules:${o.runtimeDir}:${o.taskRoot}`;
  }
  // Lambda's Python runtimes: "PYTHONPATH – The Python library path ($LAMBDA_RUNTIME_DIR)".
  if (o.family === 'python') env.PYTHONPATH = o.runtimeDir;
  env.TZ = ':UTC'; // Lambda's default; a function may set its own TZ (not a reserved key)
  // X-Ray: what Lambda sets (the X-Ray SDKs log instead of throwing outside a segment); a
  // function may set its own (unreserved keys). No daemon listens there on a Stratus host.
  env.AWS_XRAY_CONTEXT_MISSING = 'LOG_ERROR';
  env.AWS_XRAY_DAEMON_ADDRESS = `${XRAY_DAEMON_IP}:${XRAY_DAEMON_PORT}`;
  if (o.client) Object.assign(env, o.client.endpoints);
  for (const k in c.environment) if (!RESERVED.has(k)) env[k] = c.environment[k]!;
  env._HANDLER = c.handler ?? '';
  env._AWS_XRAY_DAEMON_ADDRESS = XRAY_DAEMON_IP;
  env._AWS_XRAY_DAEMON_PORT = XRAY_DAEMON_PORT;
  env.AWS_REGION = o.region;
  env.AWS_DEFAULT_REGION = o.region;
  if (o.family !== 'custom' && c.runtime) env.AWS_EXECUTION_ENV = `AWS_Lambda_${c.runtime}`;
  env.AWS_LAMBDA_FUNCTION_NAME = t.functionName;
  env.AWS_LAMBDA_FUNCTION_VERSION = t.version;
  env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE = String(c.memorySize);
  env.AWS_LAMBDA_LOG_GROUP_NAME = t.logGroupName;
  env.AWS_LAMBDA_LOG_STREAM_NAME = o.logStream;
  env.AWS_LAMBDA_INITIALIZATION_TYPE = o.initializationType ?? 'on-demand';
  // LoggingConfig JSON: what Lambda's runtimes read to write JSON records and filter them by level.
  if (c.loggingConfig.logFormat === 'JSON') {
    env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
    env.AWS_LAMBDA_LOG_LEVEL = c.loggingConfig.applicationLogLevel ?? 'INFO';
  }
  env.AWS_LAMBDA_RUNTIME_API = o.runtimeApi;
  if (o.client) Object.assign(env, o.client.credentials);
  env.LAMBDA_TASK_ROOT = o.taskRoot;
  env.LAMBDA_RUNTIME_DIR = o.runtimeDir;
  return env;
}

/**
 * The services Stratus serves, by the names of their AWS_ENDPOINT_URL_<SERVICE> variables (the
 * SDKs' service-specific endpoints: the JavaScript SDK v3, boto3 1.28+, the AWS CLI, Go, Java...):
 * in Lambda a function's SDK reaches Lambda, SQS, EventBridge and CloudWatch Logs of its own
 * region; here those are Stratus's. Other services keep their AWS endpoints.
 */
export const SERVED_SERVICE_ENDPOINTS = ['LAMBDA', 'SQS', 'EVENTBRIDGE', 'CLOUDWATCH_LOGS'] as const;

export interface AwsClientVars {
  /** AWS_ENDPOINT_URL_<SERVICE>: not reserved, a function's configuration may point them elsewhere. */
  endpoints: Record<string, string>;
  /** AWS_ACCESS_KEY_ID (and AWS_ACCESS_KEY) / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN: reserved keys, as in Lambda. */
  credentials: Record<string, string>;
}

const KEY_ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * What an AWS SDK inside a function needs to call Stratus's services as it calls Lambda's: their
 * endpoints (`serviceUrl`, Stratus's own URL; none when empty) and credentials, by
 * `credentials` (config.functionCredentials):
 * - 'session': fresh values per environment in the shapes of STS session credentials, where
 *   Lambda puts the execution role's. Stratus has no IAM and accepts any; AWS refuses them.
 * - 'none': no variables; an SDK's credential chain goes on to what the host offers.
 * - 'host': the server's own credential variables (`hostEnv`), the same for every function.
 */
export function awsClientVars(serviceUrl: string, credentials: FunctionCredentials, hostEnv: NodeJS.ProcessEnv = process.env): AwsClientVars {
  const endpoints: Record<string, string> = {};
  if (serviceUrl) for (const s of SERVED_SERVICE_ENDPOINTS) endpoints[`AWS_ENDPOINT_URL_${s}`] = serviceUrl;
  const creds: Record<string, string> = {};
  if (credentials === 'session') {
    creds.AWS_ACCESS_KEY_ID = `ASIA${[...randomBytes(16)].map((b) => KEY_ID_CHARS[b % 32]).join('')}`;
    creds.AWS_SECRET_ACCESS_KEY = randomBytes(30).toString('base64');
    creds.AWS_SESSION_TOKEN = randomBytes(192).toString('base64');
  } else if (credentials === 'host') {
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      const v = hostEnv[k];
      if (v) creds[k] = v;
    }
  }
  // Lambda's list of runtime variables names the key id twice: AWS_ACCESS_KEY too.
  if (creds.AWS_ACCESS_KEY_ID) creds.AWS_ACCESS_KEY = creds.AWS_ACCESS_KEY_ID;
  return { endpoints, credentials: creds };
}

/**
 * The URL a process on this host reaches a server at, from the URL the server listens on: a
 * wildcard address (0.0.0.0, ::) is not one to connect to, its loopback is.
 */
export function localUrl(listenUrl: string): string {
  if (!listenUrl) return '';
  const u = new URL(listenUrl);
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  else if (u.hostname === '[::]') u.hostname = '[::1]';
  return u.origin;
}

/**
 * What node reads only as it starts, of the function's variables: NODE_OPTIONS (as Lambda's
 * bootstrap passes it), NODE_EXTRA_CA_CERTS, UV_THREADPOOL_SIZE (libuv's pool starts with the
 * first file operation, long before a pooled runtime has its function). Null when it sets none:
 * then a pooled runtime, booted without them, serves it.
 */
export function nodeStartupEnv(t: ExecutionTarget): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const k of ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'UV_THREADPOOL_SIZE']) {
    const v = t.config.environment[k];
    if (v) out[k] = v;
  }
  return Object.keys(out).length ? out : null;
}

/**
 * The wrapper script a function's shipped runtime is started with (AWS_LAMBDA_EXEC_WRAPPER: the
 * path of an executable, as the function sees it), or null. Lambda supports wrapper scripts on
 * its language runtimes, not on the OS-only ones (provided.*), which ignore the variable. The
 * wrapper gets the runtime's command line as its arguments and the function's environment, and is
 * expected to exec the runtime (it may change both first); such a runtime is never a pooled one.
 */
export function execWrapper(t: ExecutionTarget, family: RuntimeFamily): string | null {
  if (family === 'custom') return null;
  return t.config.environment.AWS_LAMBDA_EXEC_WRAPPER || null;
}
