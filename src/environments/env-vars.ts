import { RESERVED_ENV_KEYS } from '../core/env.js';
import type { ExecutionTarget } from '../ports/execution.js';
import type { RuntimeFamily } from './runtimes.js';

/** Lambda's PATH. */
export const LAMBDA_PATH = '/usr/local/bin:/usr/bin/:/bin:/opt/bin';

/**
 * What a shipped runtime gets before it knows its function (it replaces its environment with the
 * function's once assigned, so none of this reaches the function). glibc's allocator is told to
 * keep few arenas and to give freed memory back instead of holding it: an idle warm Node
 * environment otherwise keeps ~3 MiB more private memory than it uses.
 */
export const BOOT_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: LAMBDA_PATH,
  LANG: 'en_US.UTF-8',
  TZ: ':UTC',
  MALLOC_ARENA_MAX: '2',
  MALLOC_TRIM_THRESHOLD_: '262144',
  MALLOC_MMAP_THRESHOLD_: '262144',
});

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
}): Record<string, string> {
  const c = t.config;
  const env: Record<string, string> = {
    PATH: LAMBDA_PATH,
    LANG: 'en_US.UTF-8',
    LD_LIBRARY_PATH: `/lib64:/usr/lib64:${o.runtimeDir}:${o.runtimeDir}/lib:${o.taskRoot}:${o.taskRoot}/lib:/opt/lib`,
  };
  if (o.family === 'node') env.NODE_PATH = `/opt/nodejs/node_modules:${o.runtimeDir}/node_modules:${o.runtimeDir}:${o.taskRoot}`;
  env.TZ = ':UTC'; // Lambda's default; a function may set its own TZ (not a reserved key)
  // X-Ray: what Lambda sets (the X-Ray SDKs log instead of throwing outside a segment); a
  // function may set its own (unreserved keys). No daemon listens there on a Stratus host.
  env.AWS_XRAY_CONTEXT_MISSING = 'LOG_ERROR';
  env.AWS_XRAY_DAEMON_ADDRESS = `${XRAY_DAEMON_IP}:${XRAY_DAEMON_PORT}`;
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
  env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
  // LoggingConfig JSON: what Lambda's runtimes read to write JSON records and filter them by level.
  if (c.loggingConfig.logFormat === 'JSON') {
    env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
    env.AWS_LAMBDA_LOG_LEVEL = c.loggingConfig.applicationLogLevel ?? 'INFO';
  }
  env.AWS_LAMBDA_RUNTIME_API = o.runtimeApi;
  env.LAMBDA_TASK_ROOT = o.taskRoot;
  env.LAMBDA_RUNTIME_DIR = o.runtimeDir;
  return env;
}
