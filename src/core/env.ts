/**
 * Environment variable names Lambda sets itself and refuses in a function's configuration
 * (InvalidParameterValueException "... contains reserved keys ..."). TZ, LANG, PATH,
 * LD_LIBRARY_PATH, NODE_PATH and PYTHONPATH are not reserved: a function may set them.
 */
export const RESERVED_ENV_KEYS: ReadonlySet<string> = new Set([
  '_HANDLER', '_X_AMZN_TRACE_ID', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_EXECUTION_ENV', 'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR',
]);

/** Lambda's limit on a function's environment variables, measured as their JSON text. */
export const ENV_VARS_MAX_BYTES = 4096;
