import { ENV_VARS_MAX_BYTES, RESERVED_ENV_KEYS } from './env.js';
import { Errors } from './errors.js';
import { functionLayerArns } from './layers.js';
import type { FunctionConfig } from './model.js';
import { rules, Violations } from './validation.js';

/**
 * Validation of a function's configuration as Lambda does it: model constraints (pattern,
 * length, range) are ValidationException listing every violation; semantic refusals (reserved
 * variables, the 4 KB environment, a runtime Stratus cannot run) are InvalidParameterValueException.
 * Input is the wire shape (CreateFunction / UpdateFunctionConfiguration field names).
 */

/** Runtimes Stratus runs: the host's node for nodejs*, the host's python3 for python*, the function's own bootstrap for provided*. */
export const SUPPORTED_RUNTIMES: readonly string[] = [
  'nodejs18.x', 'nodejs20.x', 'nodejs22.x', 'nodejs24.x',
  'python3.9', 'python3.10', 'python3.11', 'python3.12', 'python3.13', 'python3.14',
  'provided', 'provided.al2', 'provided.al2023',
];

/** Runtimes Lambda no longer accepts for creating or updating functions. */
const DEPRECATED_RUNTIMES = new Set([
  'nodejs', 'nodejs4.3', 'nodejs4.3-edge', 'nodejs6.10', 'nodejs8.10', 'nodejs10.x', 'nodejs12.x', 'nodejs14.x', 'nodejs16.x',
  'python2.7', 'python3.6', 'python3.7', 'python3.8', 'dotnetcore1.0', 'dotnetcore2.0', 'dotnetcore2.1', 'dotnetcore3.1',
  'dotnet6', 'ruby2.5', 'ruby2.7', 'go1.x', 'java8',
]);

/** The Runtime enum of Lambda's API model (botocore's lambda 2015-03-31), in its order. */
export const RUNTIME_ENUM: readonly string[] = [
  'nodejs', 'nodejs4.3', 'nodejs6.10', 'nodejs8.10', 'nodejs10.x', 'nodejs12.x', 'nodejs14.x', 'nodejs16.x', 'java8', 'java8.al2',
  'java11', 'python2.7', 'python3.6', 'python3.7', 'python3.8', 'python3.9', 'dotnetcore1.0', 'dotnetcore2.0', 'dotnetcore2.1',
  'dotnetcore3.1', 'dotnet6', 'dotnet8', 'nodejs4.3-edge', 'go1.x', 'ruby2.5', 'ruby2.7', 'provided', 'provided.al2', 'nodejs18.x',
  'python3.10', 'java17', 'ruby3.2', 'ruby3.3', 'ruby3.4', 'python3.11', 'nodejs20.x', 'provided.al2023', 'python3.12', 'java21',
  'python3.13', 'nodejs22.x', 'nodejs24.x', 'python3.14', 'java25', 'dotnet10', 'ruby4.0',
];

/** Every value of the Runtime enum in Lambda's API model (the order of CURRENT_RUNTIMES' messages). */
export const LAMBDA_RUNTIMES: ReadonlySet<string> = new Set([
  ...DEPRECATED_RUNTIMES, ...SUPPORTED_RUNTIMES, 'java8.al2', 'java11', 'java17', 'java21', 'java25', 'dotnet8', 'dotnet10',
  'ruby3.2', 'ruby3.3', 'ruby3.4', 'ruby4.0',
]);

/**
 * Runtimes Lambda takes SnapStart for (Java 11+, Python 3.12+, .NET 8+): "Other managed runtimes
 * (such as nodejs24.x and ruby3.4), OS-only runtimes, and container images are not supported."
 */
/** The runtimes Lambda's enum-constraint messages list: every one but the deprecated. */
export const CURRENT_RUNTIMES: readonly string[] = [...LAMBDA_RUNTIMES].filter((r) => !DEPRECATED_RUNTIMES.has(r));

const SNAPSTART_RUNTIMES = new Set(['java11', 'java17', 'java21', 'java25', 'python3.12', 'python3.13', 'python3.14', 'dotnet8', 'dotnet10']);
/** SnapStart does not support ephemeral storage greater than 512 MB. */
const SNAPSTART_EPHEMERAL_MAX = 512;

export const MEMORY_MIN = 128;
export const MEMORY_MAX = 10240;
const MEMORY_MODEL_MAX = 32768;
export const TIMEOUT_MAX = 900;
export const EPHEMERAL_MIN = 512;
export const EPHEMERAL_MAX = 10240;

const ROLE_PATTERN = 'arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+';
const ROLE = new RegExp(`^${ROLE_PATTERN}$`);
const ENV_KEY_PATTERN = '[a-zA-Z]([a-zA-Z0-9_])+';
const ENV_KEY = new RegExp(`^${ENV_KEY_PATTERN}$`);
const LOG_GROUP = /^[.\-_/#A-Za-z0-9]{1,512}$/;
const DLQ_TARGET = /^arn:aws[a-zA-Z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:[a-zA-Z0-9_.-]+$/;
/** DeadLetterConfig.TargetArn's pattern in the model (ResourceArn). */
const DLQ_PATTERN_TEXT = '(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()';
const DLQ_PATTERN = /^(?:(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|())$/;
const TENANT_ISOLATION_MODES = ['PER_TENANT'];
const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const SYSTEM_LOG_LEVELS = ['DEBUG', 'INFO', 'WARN'];

type Input = Record<string, unknown>;

export function defaultConfig(): FunctionConfig {
  return {
    runtime: null,
    handler: null,
    role: '',
    memorySize: 128,
    timeout: 3,
    description: '',
    environment: {},
    ephemeralStorage: 512,
    architectures: ['x86_64'],
    packageType: 'Zip',
    deadLetterTargetArn: null,
    tracingMode: 'PassThrough',
    layers: [],
    loggingConfig: { logFormat: 'Text', logGroup: null },
  };
}

const isObj = (v: unknown): v is Input => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown) => v !== undefined && v !== null;

/**
 * Durable functions and Lambda Managed Instances (capacity providers, PublishTo) are refused, not
 * dropped: a caller that set them would otherwise believe they were on.
 */
export function refuseManagedFeatures(input: Input): void {
  if (present(input.DurableConfig)) throw Errors.invalidParameter('Durable functions (DurableConfig) are not supported by Stratus.');
  if (present(input.CapacityProviderConfig)) {
    throw Errors.invalidParameter('Lambda Managed Instances (CapacityProviderConfig) are not supported by Stratus.');
  }
  if (present(input.PublishTo)) throw Errors.invalidParameter('PublishTo (Lambda Managed Instances) is not supported by Stratus.');
}

/**
 * Applies the configuration fields present in `input` onto `base` (CreateFunction starts from
 * defaultConfig(); UpdateFunctionConfiguration from the current $LATEST) and validates the
 * result. `creating` makes Role required and the Runtime/Handler checks apply as on create.
 */
export function applyConfig(base: FunctionConfig, input: Input, creating: boolean): FunctionConfig {
  const v = new Violations();
  const c: FunctionConfig = {
    ...base,
    environment: { ...base.environment },
    architectures: [...base.architectures],
    layers: [...base.layers],
    loggingConfig: { ...base.loggingConfig },
  };

  // Runtime (a string outside the enum is Lambda's own refusal, below)
  if (present(input.Runtime)) {
    if (typeof input.Runtime !== 'string') v.add(input.Runtime, 'runtime', `${rules.enumOf(CURRENT_RUNTIMES)} or be a valid ARN`);
    else if (LAMBDA_RUNTIMES.has(input.Runtime)) c.runtime = input.Runtime;
  }
  // Role
  if (present(input.Role)) {
    if (typeof input.Role !== 'string' || !ROLE.test(input.Role)) v.add(input.Role, 'role', rules.pattern(ROLE_PATTERN));
    else c.role = input.Role;
  } else if (creating) v.add(null, 'role', rules.notNull);
  // Handler
  if (present(input.Handler)) {
    if (typeof input.Handler !== 'string' || input.Handler.length > 128) v.add(input.Handler, 'handler', rules.maxLength(128));
    else if (!/^[^\s]+$/.test(input.Handler)) v.add(input.Handler, 'handler', rules.pattern('[^\\s]+'));
    else c.handler = input.Handler;
  }
  // Description
  if (present(input.Description)) {
    if (typeof input.Description !== 'string' || input.Description.length > 256) v.add(input.Description, 'description', rules.maxLength(256));
    else c.description = input.Description;
  }
  // Timeout
  if (present(input.Timeout)) {
    const t = input.Timeout;
    if (typeof t !== 'number' || !Number.isInteger(t)) v.add(t, 'timeout', 'Member must be an integer');
    else if (t < 1) v.add(t, 'timeout', rules.minValue(1));
    else if (t > TIMEOUT_MAX) v.add(t, 'timeout', rules.maxValue(TIMEOUT_MAX));
    else c.timeout = t;
  }
  // MemorySize: below the model's minimum or above its maximum is a model violation; between
  // Lambda's 10240 and the model's 32768 it is Lambda's own refusal (below).
  let memoryTooLarge = false;
  if (present(input.MemorySize)) {
    const m = input.MemorySize;
    if (typeof m !== 'number' || !Number.isInteger(m)) v.add(m, 'memorySize', 'Member must be an integer');
    else if (m < MEMORY_MIN) v.add(m, 'memorySize', rules.minValue(MEMORY_MIN));
    else if (m > MEMORY_MODEL_MAX) v.add(m, 'memorySize', rules.maxValue(MEMORY_MODEL_MAX));
    else if (m > MEMORY_MAX) memoryTooLarge = true;
    else c.memorySize = m;
  }
  // EphemeralStorage
  if (present(input.EphemeralStorage)) {
    const e = input.EphemeralStorage;
    const size = isObj(e) ? e.Size : undefined;
    if (typeof size !== 'number' || !Number.isInteger(size)) v.add(size ?? null, 'ephemeralStorage.size', rules.notNull);
    else if (size < EPHEMERAL_MIN) v.add(size, 'ephemeralStorage.size', rules.minValue(EPHEMERAL_MIN));
    else if (size > EPHEMERAL_MAX) v.add(size, 'ephemeralStorage.size', rules.maxValue(EPHEMERAL_MAX));
    else c.ephemeralStorage = size;
  }
  // Architectures
  if (present(input.Architectures)) {
    const a = input.Architectures;
    if (!Array.isArray(a) || a.length !== 1) v.add(a, 'architectures', 'Member must have length less than or equal to 1 and greater than or equal to 1');
    else if (a[0] !== 'x86_64' && a[0] !== 'arm64') v.add(a, 'architectures', `Member must satisfy constraint: [${rules.enumOf(['x86_64', 'arm64'])}]`);
    else c.architectures = [a[0]];
  }
  // Environment
  let envVars: Record<string, string> | undefined;
  if (present(input.Environment)) {
    const e = input.Environment;
    if (!isObj(e)) v.addUnvalued('environment', 'Member must be a structure');
    else if (present(e.Variables)) {
      if (!isObj(e.Variables)) v.addUnvalued('environment.variables', 'Member must be a map');
      else {
        const vars: Record<string, string> = {};
        let badKey = false;
        let badValue = false;
        for (const [k, val] of Object.entries(e.Variables)) {
          if (!ENV_KEY.test(k)) badKey = true;
          if (typeof val !== 'string') badValue = true;
          vars[k] = String(val);
        }
        // Lambda's wording for a bad key (keys start with a letter and have at least two characters).
        if (badKey) v.addUnvalued('environment.variables', `Map keys must satisfy constraint: [${rules.pattern(ENV_KEY_PATTERN)}]`);
        if (badValue) v.addUnvalued('environment.variables', 'Map values must be strings');
        if (!badKey && !badValue) envVars = vars;
      }
    } else envVars = {};
  }
  // TracingConfig
  if (present(input.TracingConfig)) {
    const mode = isObj(input.TracingConfig) ? input.TracingConfig.Mode : undefined;
    if (present(mode)) {
      if (mode !== 'Active' && mode !== 'PassThrough') v.add(mode, 'tracingConfig.mode', rules.enumOf(['Active', 'PassThrough']));
      else c.tracingMode = mode;
    }
  }
  // LoggingConfig
  if (present(input.LoggingConfig)) {
    const l = input.LoggingConfig;
    if (!isObj(l)) v.addUnvalued('loggingConfig', 'Member must be a structure');
    else {
      if (present(l.LogFormat)) {
        if (l.LogFormat !== 'Text' && l.LogFormat !== 'JSON') v.add(l.LogFormat, 'loggingConfig.logFormat', rules.enumOf(['JSON', 'Text']));
        else c.loggingConfig.logFormat = l.LogFormat;
      }
      if (present(l.LogGroup)) {
        if (typeof l.LogGroup !== 'string' || !LOG_GROUP.test(l.LogGroup)) v.add(l.LogGroup, 'loggingConfig.logGroup', rules.pattern('[\\.\\-_/#A-Za-z0-9]+'));
        else c.loggingConfig.logGroup = l.LogGroup;
      }
      if (present(l.ApplicationLogLevel)) {
        if (typeof l.ApplicationLogLevel !== 'string' || !LOG_LEVELS.includes(l.ApplicationLogLevel)) v.add(l.ApplicationLogLevel, 'loggingConfig.applicationLogLevel', rules.enumOf(LOG_LEVELS));
        else c.loggingConfig.applicationLogLevel = l.ApplicationLogLevel;
      }
      if (present(l.SystemLogLevel)) {
        if (typeof l.SystemLogLevel !== 'string' || !SYSTEM_LOG_LEVELS.includes(l.SystemLogLevel)) v.add(l.SystemLogLevel, 'loggingConfig.systemLogLevel', rules.enumOf(SYSTEM_LOG_LEVELS));
        else c.loggingConfig.systemLogLevel = l.SystemLogLevel;
      }
    }
  }
  // DeadLetterConfig ({} or TargetArn '' removes it)
  let dlq: string | null | undefined;
  if (present(input.DeadLetterConfig)) {
    const d = input.DeadLetterConfig;
    if (!isObj(d)) v.addUnvalued('deadLetterConfig', 'Member must be a structure');
    else if (d.TargetArn === undefined || d.TargetArn === null || d.TargetArn === '') dlq = null;
    // The model's pattern first (ValidationException), then what Lambda can deliver to.
    else if (typeof d.TargetArn !== 'string' || !DLQ_PATTERN.test(d.TargetArn)) v.add(d.TargetArn, 'deadLetterConfig.targetArn', rules.pattern(DLQ_PATTERN_TEXT));
    else dlq = d.TargetArn;
  }
  // KMSKeyArn ('' removes it)
  if (present(input.KMSKeyArn)) {
    const k = input.KMSKeyArn;
    if (typeof k !== 'string' || (k !== '' && !/^arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*$/.test(k))) v.add(k, 'kMSKeyArn', rules.pattern('(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()'));
    else if (k === '') delete c.kmsKeyArn;
    else c.kmsKeyArn = k;
  }
  // SnapStart
  if (present(input.SnapStart)) {
    const s = input.SnapStart;
    if (!isObj(s)) v.addUnvalued('snapStart', 'Member must be a structure');
    else if (present(s.ApplyOn)) {
      if (s.ApplyOn !== 'PublishedVersions' && s.ApplyOn !== 'None') v.add(s.ApplyOn, 'snapStart.applyOn', rules.enumOf(['PublishedVersions', 'None']));
      else if (s.ApplyOn === 'PublishedVersions') c.snapStart = 'PublishedVersions';
      else delete c.snapStart;
    }
  }
  // TenancyConfig: CreateFunction's only (UpdateFunctionConfiguration has no such member, and
  // an unknown member is ignored there as any other is).
  if (creating && present(input.TenancyConfig)) {
    const t = input.TenancyConfig;
    if (!isObj(t)) v.addUnvalued('tenancyConfig', 'Member must be a structure');
    else if (!present(t.TenantIsolationMode)) v.add(null, 'tenancyConfig.tenantIsolationMode', rules.notNull);
    else if (t.TenantIsolationMode !== 'PER_TENANT') v.add(t.TenantIsolationMode, 'tenancyConfig.tenantIsolationMode', rules.enumOf(TENANT_ISOLATION_MODES));
    else c.tenancy = 'PER_TENANT';
  }
  // PackageType
  if (present(input.PackageType) && input.PackageType !== 'Zip' && input.PackageType !== 'Image') {
    v.add(input.PackageType, 'packageType', rules.enumOf(['Zip', 'Image']));
  }

  v.throwIfAny();

  // Lambda's own (semantic) refusals, after the model checks pass.
  if (input.PackageType === 'Image' || present(input.ImageConfig)) {
    throw Errors.invalidParameter('Stratus runs .zip deployment packages only: PackageType Image and ImageConfig are not supported.');
  }
  if (memoryTooLarge) {
    throw Errors.invalidParameter(`'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to ${MEMORY_MAX}`);
  }
  if (present(input.Runtime)) {
    const r = input.Runtime as string;
    // Lambda's words for a runtime it does not know: an InvalidParameterValueException worded as
    // a constraint, the value unquoted, listing the model's enum.
    if (!LAMBDA_RUNTIMES.has(r)) {
      throw Errors.invalidParameter(`Value ${r} at 'runtime' failed to satisfy constraint: ${rules.enumOf(RUNTIME_ENUM)} or be a valid ARN`);
    }
    if (DEPRECATED_RUNTIMES.has(r)) {
      throw Errors.invalidParameter(
        `The runtime parameter of ${r} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.`,
      );
    }
    if (!SUPPORTED_RUNTIMES.includes(r)) {
      throw Errors.invalidParameter(
        `The runtime ${r} is a Lambda runtime that Stratus cannot run. Stratus runs nodejs18.x-nodejs24.x, python3.9-python3.14 and custom runtimes (provided.al2023, provided.al2).`,
      );
    }
  }
  if (envVars) {
    const reserved = Object.keys(envVars).filter((k) => RESERVED_ENV_KEYS.has(k));
    if (reserved.length) {
      throw Errors.invalidParameter(
        `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
      );
    }
    const measured = JSON.stringify(envVars);
    if (Buffer.byteLength(measured) > ENV_VARS_MAX_BYTES) {
      throw Errors.invalidParameter(
        `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: ${measured}`,
      );
    }
    c.environment = envVars;
  }
  if (dlq !== undefined) {
    if (dlq !== null && !DLQ_TARGET.test(dlq)) {
      throw Errors.invalidParameter(`The provided DeadLetterConfig target ARN ${dlq} is invalid: it must name an SQS queue or an SNS topic.`);
    }
    c.deadLetterTargetArn = dlq;
  }
  // Layers: checked here (functionLayerArns), looked up and set by the control plane.
  functionLayerArns(input.Layers);
  if (isObj(input.VpcConfig) && ((Array.isArray(input.VpcConfig.SubnetIds) && input.VpcConfig.SubnetIds.length > 0)
    || (Array.isArray(input.VpcConfig.SecurityGroupIds) && input.VpcConfig.SecurityGroupIds.length > 0))) {
    throw Errors.invalidParameter('VpcConfig with subnets or security groups is not supported by Stratus: functions reach the host\'s network directly.');
  }
  if (Array.isArray(input.FileSystemConfigs) && input.FileSystemConfigs.length > 0) {
    throw Errors.invalidParameter('FileSystemConfigs (Amazon EFS) are not supported by Stratus.');
  }
  if (present(input.CodeSigningConfigArn)) {
    throw Errors.invalidParameter('Code signing (CodeSigningConfigArn) is not supported by Stratus.');
  }
  refuseManagedFeatures(input);
  // SnapStart, checked on the resulting configuration: turning it on, or changing the runtime or
  // the storage of a function that has it, are refused alike.
  if (c.snapStart && (present(input.SnapStart) || present(input.Runtime) || present(input.EphemeralStorage))) {
    if (c.runtime && !SNAPSTART_RUNTIMES.has(c.runtime)) throw Errors.invalidParameter(`${c.runtime} is not supported for SnapStart enabled functions.`);
    if (c.ephemeralStorage > SNAPSTART_EPHEMERAL_MAX) {
      throw Errors.invalidParameter(`SnapStart enabled functions do not support ephemeral storage greater than ${SNAPSTART_EPHEMERAL_MAX} MB.`);
    }
  }
  // Tenant isolation "is incompatible with SnapStart" (with provisioned concurrency and function
  // URLs too: those are refused where they are configured). Lambda's words are not documented.
  if (c.tenancy && c.snapStart && (creating || present(input.SnapStart))) {
    throw Errors.invalidParameter('SnapStart is not supported for functions with tenant isolation mode (TenancyConfig PER_TENANT).');
  }
  if (c.loggingConfig.logFormat === 'Text' && (c.loggingConfig.applicationLogLevel || c.loggingConfig.systemLogLevel)) {
    if (present((input.LoggingConfig as Input | undefined)?.ApplicationLogLevel) || present((input.LoggingConfig as Input | undefined)?.SystemLogLevel)) {
      throw Errors.invalidParameter('LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and try again.');
    }
    delete c.loggingConfig.applicationLogLevel;
    delete c.loggingConfig.systemLogLevel;
  }
  if (c.loggingConfig.logFormat === 'JSON') {
    c.loggingConfig.applicationLogLevel ??= 'INFO';
    c.loggingConfig.systemLogLevel ??= 'INFO';
  }

  // Handler: required to run a shipped runtime. Its form (module.function) is the runtime's to
  // check, at init, as Lambda does (Runtime.MalformedHandlerName): CreateFunction accepts any
  // handler that fits the model's pattern.
  if (c.runtime && !c.runtime.startsWith('provided') && !c.handler) {
    if (creating || present(input.Runtime) || present(input.Handler)) {
      throw Errors.invalidParameter(`The Handler parameter is required for runtime ${c.runtime}.`);
    }
  }
  if (creating && !c.runtime) throw Errors.invalidParameter('Runtime is required for a .zip deployment package.');
  return c;
}

/** Tags as Lambda limits them: at most 50, keys 1-128 chars, values up to 256, no aws: prefix. */
export function validateTags(tags: unknown, existing: Record<string, string> = {}): Record<string, string> {
  if (tags === undefined || tags === null) return { ...existing };
  if (!isObj(tags)) throw Errors.invalidParameter('Tags must be a map of strings.');
  const out = { ...existing };
  for (const [k, val] of Object.entries(tags)) {
    if (typeof val !== 'string') throw Errors.invalidParameter(`The value of tag ${k} must be a string.`);
    if (k.length < 1 || k.length > 128) throw Errors.invalidParameter(`Tag key ${k} must be 1 to 128 characters long.`);
    if (val.length > 256) throw Errors.invalidParameter(`Tag value of ${k} must be at most 256 characters long.`);
    if (/^aws:/i.test(k)) throw Errors.invalidParameter(`Tag keys starting with 'aws:' are reserved: ${k}`);
    out[k] = val;
  }
  if (Object.keys(out).length > 50) throw Errors.invalidParameter('Number of tags exceeds resource tag limit.');
  return out;
}

/** Identity of what a published version freezes: code and configuration (not the description). */
export function sameDeployment(a: { codeSha256: string; config: FunctionConfig }, b: { codeSha256: string; config: FunctionConfig }): boolean {
  return a.codeSha256 === b.codeSha256 && canonical({ ...a.config, description: '' }) === canonical({ ...b.config, description: '' });
}

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
