import { createHash } from 'node:crypto';
import { Errors } from './errors.js';
import type { Locale } from './model.js';
import { rules, violation } from './validation.js';

/**
 * Function names, ARNs and qualifiers, as Lambda accepts them:
 *   my-function, my-function:alias, 123456789012:function:my-function[:q],
 *   arn:aws:lambda:us-east-1:123456789012:function:my-function[:q]
 * Each operation's FunctionName has one of two shapes in botocore's lambda model (2015-03-31):
 * NamespacedFunctionName (Invoke, InvokeWithResponseStream, InvokeAsync, GetFunction,
 * DeleteFunction, ListVersionsByFunction, the policy, event invoke config and event source mapping
 * operations, ...) takes dots in the name and the qualifier $LATEST.PUBLISHED; FunctionName
 * (CreateFunction, UpdateFunctionCode/Configuration, PublishVersion, aliases, concurrency,
 * function URLs, ...) takes neither. A name with dots is thus looked for, and not found: no
 * function has one (CreateFunction refuses it).
 */
const FUNCTION_NAME_PATTERNS = {
  FunctionName:
    '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?',
  NamespacedFunctionName:
    '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?',
} as const;
export type FunctionNameShape = keyof typeof FUNCTION_NAME_PATTERNS;

/**
 * The patterns, whole-string. Their groups are alike: 3 the region (with its colon), 8 the account
 * (with its colon), 10 the name, 12 the qualifier.
 */
const FUNCTION_REFS: Record<FunctionNameShape, RegExp> = {
  FunctionName: new RegExp(`^(?:${FUNCTION_NAME_PATTERNS.FunctionName})$`),
  NamespacedFunctionName: new RegExp(`^(?:${FUNCTION_NAME_PATTERNS.NamespacedFunctionName})$`),
};

export const FUNCTION_NAME = /^[a-zA-Z0-9-_]{1,64}$/;
export const ALIAS_NAME = /^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$/;
export const VERSION = /^(\$LATEST|[0-9]+)$/;

export interface FunctionRef {
  name: string;
  qualifier?: string;
  region?: string;
  accountId?: string;
}

/**
 * Parses a FunctionName parameter of the model's `shape` (the operation's). Throws the error
 * Lambda gives for a malformed one.
 */
export function parseFunctionRef(input: string, locale?: Locale, shape: FunctionNameShape = 'FunctionName'): FunctionRef {
  if (typeof input !== 'string' || input.length === 0) {
    throw Errors.validation("1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null");
  }
  if (input.length > 256) {
    throw Errors.validation(
      `1 validation error detected: Value '${input}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 256`,
    );
  }
  const m = FUNCTION_REFS[shape].exec(input);
  if (!m) {
    throw Errors.validation(
      `1 validation error detected: Value '${input}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${FUNCTION_NAME_PATTERNS[shape]}`,
    );
  }
  const name = m[10]!;
  if (name.length > 64) {
    throw Errors.validation(
      `1 validation error detected: Value '${name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64`,
    );
  }
  const ref: FunctionRef = { name };
  if (m[12] !== undefined) ref.qualifier = m[12];
  if (m[3] !== undefined) ref.region = m[3].slice(0, -1);
  if (m[8] !== undefined) ref.accountId = m[8].slice(0, -1);
  if (locale) {
    if (ref.region && ref.region !== locale.region) {
      throw Errors.resourceNotFound(`Functions from '${ref.region}' are not reachable in this region ('${locale.region}')`);
    }
    if (ref.accountId && ref.accountId !== locale.accountId) {
      throw Errors.resourceNotFound(`Function not found: ${functionArn(locale, ref.name, ref.qualifier)}`);
    }
  }
  return ref;
}

/**
 * The model's Qualifier (NumericLatestPublishedOrAliasQualifier): Invoke, GetFunction, ...
 * $LATEST.PUBLISHED fits it (Lambda Managed Instances' published $LATEST): a function without
 * one is then not found, not refused by a pattern it matches.
 */
const QUALIFIER = /^(\$LATEST\.PUBLISHED|[a-zA-Z0-9$_-]{1,128})$/;
const QUALIFIER_PATTERN = '\\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+';

/**
 * Combines a FunctionName that may carry a qualifier with an explicit Qualifier parameter.
 * Lambda refuses a Qualifier outside the model's constraints, and the two when they disagree.
 */
export function resolveQualifier(ref: FunctionRef, qualifier: string | undefined): string | undefined {
  if (qualifier !== undefined && qualifier !== '') {
    if (!QUALIFIER.test(qualifier)) {
      violation(qualifier, 'qualifier', qualifier.length > 128 ? rules.maxLength(128) : rules.pattern(QUALIFIER_PATTERN));
    }
    if (ref.qualifier !== undefined && ref.qualifier !== qualifier) {
      throw Errors.invalidParameter('The derived qualifier from the function name does not match the specified qualifier.');
    }
    return qualifier;
  }
  return ref.qualifier;
}

export function functionArn(locale: Locale, name: string, qualifier?: string): string {
  const base = `arn:aws:lambda:${locale.region}:${locale.accountId}:function:${name}`;
  return qualifier ? `${base}:${qualifier}` : base;
}

export function isNumericVersion(q: string): boolean {
  return /^[0-9]+$/.test(q);
}

/** Lambda's LastModified format: 2026-11-22T10:00:00.000+0000 */
export function lambdaTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/**
 * The runtime version and its ARN that the first line of a new execution environment's log
 * stream names (Lambda: "INIT_START Runtime Version: python:3.12.v14\tRuntime Version ARN:
 * arn:aws:lambda:...::runtime:<sha256>").
 * Stratus's runtimes have one version each (v1); custom runtimes run the function's own
 * bootstrap, named after the runtime identifier (provided:al2023.v1, provided:v1).
 */
export function runtimeVersion(runtime: string | null | undefined, region: string): { version: string; arn: string } {
  const m = /^([a-z]+)(\d.*?)(?:\.x)?$/.exec(runtime ?? '') ?? /^(provided)\.?(.*)$/.exec(runtime ?? '');
  const version = m && m[2] ? `${m[1]}:${m[2]}.v1` : `${m?.[1] ?? (runtime || 'provided')}:v1`;
  return { version, arn: `arn:aws:lambda:${region}::runtime:${createHash('sha256').update(`stratus ${version}`).digest('hex')}` };
}
