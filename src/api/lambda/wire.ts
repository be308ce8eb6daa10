import { functionArn, runtimeVersion } from '../../core/arn.js';
import type { AliasRecord, Locale } from '../../core/model.js';
import type { AccountSettings, VersionView } from '../../control/index.js';

/** The reason Lambda gives while a function's creation or update is being applied. */
const BEING_CREATED = { reason: 'The function is being created.', code: 'Creating' };

/**
 * A configuration as CreateFunction / UpdateFunctionCode / UpdateFunctionConfiguration answer it:
 * as Lambda reports the function when it accepts the change, before applying it (State Pending
 * after a create, LastUpdateStatus InProgress after an update, with the reason Lambda gives).
 * Stratus applies the change before answering: from the next read on (GetFunction, the waiters)
 * the function is Active and the update Successful.
 */
export function asAccepted(out: Record<string, unknown>, change: 'create' | 'update'): Record<string, unknown> {
  if (change === 'create') {
    out.State = 'Pending';
    out.StateReason = BEING_CREATED.reason;
    out.StateReasonCode = BEING_CREATED.code;
    delete out.LastUpdateStatus;
    delete out.LastUpdateStatusReason;
    delete out.LastUpdateStatusReasonCode;
  } else {
    // Lambda's answers also say LastUpdateStatusReasonCode "Creating", a value its model's enum
    // for that field does not have (it has it for StateReasonCode): left out, as the model has it.
    out.LastUpdateStatus = 'InProgress';
    out.LastUpdateStatusReason = BEING_CREATED.reason;
    delete out.LastUpdateStatusReasonCode;
  }
  return out;
}

/** A version as Lambda's FunctionConfiguration shape (botocore lambda 2015-03-31). */
export function functionConfiguration(view: VersionView, locale: Locale): Record<string, unknown> {
  const v = view.version;
  const c = v.config;
  const out: Record<string, unknown> = {
    FunctionName: v.functionName,
    FunctionArn: functionArn(locale, v.functionName, view.arnQualifier),
    Runtime: c.runtime ?? undefined,
    Role: c.role,
    Handler: c.handler ?? undefined,
    CodeSize: v.codeSize,
    Description: c.description,
    Timeout: c.timeout,
    MemorySize: c.memorySize,
    LastModified: v.lastModified,
    CodeSha256: v.codeSha256,
    Version: v.version,
  };
  if (Object.keys(c.environment).length > 0) out.Environment = { Variables: { ...c.environment } };
  if (c.kmsKeyArn) out.KMSKeyArn = c.kmsKeyArn;
  if (c.deadLetterTargetArn) out.DeadLetterConfig = { TargetArn: c.deadLetterTargetArn };
  out.TracingConfig = { Mode: c.tracingMode };
  out.RevisionId = v.revisionId;
  if (c.layers.length) out.Layers = c.layers.map((l) => ({ Arn: l.arn, CodeSize: l.codeSize }));
  out.State = v.state;
  if (v.stateReason) out.StateReason = v.stateReason;
  if (v.stateReasonCode) out.StateReasonCode = v.stateReasonCode;
  out.LastUpdateStatus = v.lastUpdateStatus;
  if (v.lastUpdateStatusReason) out.LastUpdateStatusReason = v.lastUpdateStatusReason;
  if (v.lastUpdateStatusReasonCode) out.LastUpdateStatusReasonCode = v.lastUpdateStatusReasonCode;
  out.PackageType = c.packageType;
  out.Architectures = [...c.architectures];
  out.EphemeralStorage = { Size: c.ephemeralStorage };
  // Stratus takes no snapshots: a SnapStart version's environments initialize as any other's.
  // OptimizationStatus says what Lambda says: On for a published version of a function with it.
  out.SnapStart = { ApplyOn: c.snapStart ?? 'None', OptimizationStatus: c.snapStart && v.version !== '$LATEST' ? 'On' : 'Off' };
  const logging: Record<string, unknown> = { LogFormat: c.loggingConfig.logFormat, LogGroup: c.loggingConfig.logGroup ?? `/aws/lambda/${v.functionName}` };
  if (c.loggingConfig.applicationLogLevel) logging.ApplicationLogLevel = c.loggingConfig.applicationLogLevel;
  if (c.loggingConfig.systemLogLevel) logging.SystemLogLevel = c.loggingConfig.systemLogLevel;
  out.LoggingConfig = logging;
  if (c.tenancy) out.TenancyConfig = { TenantIsolationMode: c.tenancy };
  // The runtime version its environments start (INIT_START names the same ARN).
  if (c.runtime) out.RuntimeVersionConfig = { RuntimeVersionArn: runtimeVersion(c.runtime, locale.region).arn };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

const NOT_LISTED = ['State', 'StateReason', 'StateReasonCode', 'LastUpdateStatus', 'LastUpdateStatusReason', 'LastUpdateStatusReasonCode', 'RuntimeVersionConfig'];

/**
 * What ListFunctions and ListVersionsByFunction list of a version: "a subset of the
 * FunctionConfiguration fields. To get the additional fields (State, StateReasonCode, StateReason,
 * LastUpdateStatus, LastUpdateStatusReason, LastUpdateStatusReasonCode, RuntimeVersionConfig) for a
 * function or version, use GetFunction" (Lambda's ListFunctions documentation).
 */
export function listedConfiguration(view: VersionView, locale: Locale): Record<string, unknown> {
  const out = functionConfiguration(view, locale);
  for (const k of NOT_LISTED) delete out[k];
  return out;
}

export function aliasConfiguration(a: AliasRecord, locale: Locale): Record<string, unknown> {
  const out: Record<string, unknown> = {
    AliasArn: functionArn(locale, a.functionName, a.name),
    Name: a.name,
    FunctionVersion: a.functionVersion,
    Description: a.description,
  };
  if (Object.keys(a.additionalVersionWeights).length) out.RoutingConfig = { AdditionalVersionWeights: { ...a.additionalVersionWeights } };
  out.RevisionId = a.revisionId;
  return out;
}

export function accountSettings(s: AccountSettings): Record<string, unknown> {
  return {
    AccountLimit: {
      TotalCodeSize: s.limit.totalCodeSize,
      CodeSizeUnzipped: s.limit.codeSizeUnzipped,
      CodeSizeZipped: s.limit.codeSizeZipped,
      ConcurrentExecutions: s.limit.concurrentExecutions,
      UnreservedConcurrentExecutions: s.limit.unreservedConcurrentExecutions,
    },
    AccountUsage: { TotalCodeSize: s.usage.totalCodeSize, FunctionCount: s.usage.functionCount },
  };
}
