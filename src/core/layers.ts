import { Errors } from './errors.js';
import type { Locale } from './model.js';
import { rules, validationError, violation, Violations } from './validation.js';

/**
 * Layer names and ARNs, as Lambda's API model constrains them:
 *   LayerName:       my-layer | arn:aws:lambda:us-east-1:123456789012:layer:my-layer
 *   LayerVersionArn: arn:aws:lambda:us-east-1:123456789012:layer:my-layer:3
 */
const LAYER_NAME_PATTERN = '(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+';
/** The pattern GetLayerVersionByArn's constraint message quotes. */
const BY_ARN_PATTERN = 'arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+';
const LAYER_NAME = new RegExp(`^(?:${LAYER_NAME_PATTERN})$`);
const LAYER_VERSION_ARN = /^arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+$/;
const LAYER_ARN_PARTS = /^arn:([a-zA-Z0-9-]+):lambda:([a-zA-Z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+)(?::([0-9]+))?$/;
const NAME_MAX = 140;
/** How many layers a function may use. */
export const MAX_FUNCTION_LAYERS = 5;
/** What a function's code and its layers may unpack to together (Lambda's 250 MB). */
export const UNZIPPED_MAX_BYTES = 262_144_000;

/** Refuses, as Lambda does, code and layers that unpack to more than 250 MB together. */
export function checkCombinedSize(codeUnpacked: number, layers: ReadonlyArray<{ unpackedSize: number }>): void {
  if (layers.length === 0) return;
  const total = layers.reduce((n, l) => n + l.unpackedSize, codeUnpacked);
  if (total <= UNZIPPED_MAX_BYTES) return;
  throw Errors.invalidParameter(`Function code combined with layers exceeds the maximum allowed size of ${UNZIPPED_MAX_BYTES} bytes. The actual size is ${total} bytes.`);
}

export function layerArn(locale: Locale, name: string, version?: number): string {
  return `arn:aws:lambda:${locale.region}:${locale.accountId}:layer:${name}${version === undefined ? '' : `:${version}`}`;
}

/**
 * A LayerName parameter (a name or a layer ARN): the layer's name. A layer ARN of another region
 * or account names no layer Stratus holds: ResourceNotFound.
 */
export function parseLayerName(raw: unknown, locale: Locale): string {
  if (typeof raw !== 'string' || raw.length === 0) violation(null, 'layerName', rules.notNull);
  const v = new Violations();
  if (raw.length > NAME_MAX) v.add(raw, 'layerName', rules.maxLength(NAME_MAX));
  if (!LAYER_NAME.test(raw)) v.add(raw, 'layerName', rules.pattern(LAYER_NAME_PATTERN));
  v.throwIfAny();
  const m = LAYER_ARN_PARTS.exec(raw);
  if (!m) return raw;
  if (m[2] !== locale.region || m[3] !== locale.accountId) throw Errors.resourceNotFound('The resource you requested does not exist.');
  return m[4]!;
}

/** A VersionNumber path parameter: a positive integer. */
export function parseLayerVersionNumber(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) violation(raw ?? null, 'versionNumber', 'Member must be a number');
  if (n < 1) throw Errors.invalidParameter('Layer Version Cannot be less than 1');
  return n;
}

/** A layer version ARN (GetLayerVersionByArn, a function's Layers): name and version, or a ValidationException. */
export function parseLayerVersionArn(raw: unknown, field: string): { region: string; accountId: string; name: string; version: number } {
  if (typeof raw !== 'string' || raw.length === 0) violation(null, field, rules.notNull);
  const v = new Violations();
  if (raw.length > NAME_MAX) v.add(raw, field, rules.maxLength(NAME_MAX));
  if (!LAYER_VERSION_ARN.test(raw)) v.add(raw, field, rules.pattern(BY_ARN_PATTERN));
  v.throwIfAny();
  const m = LAYER_ARN_PARTS.exec(raw)!;
  return { region: m[2]!, accountId: m[3]!, name: m[4]!, version: Number(m[5]) };
}

/**
 * The longest layer version ARN a function's Layers take: Lambda's current limit, past the
 * model's 140 (a layer name may be 140 characters, its version ARN then longer).
 */
const FUNCTION_LAYER_MAX = 2048;

/** The pattern Lambda's Layers constraint message quotes (a layer version ARN, or one of its own). */
const FUNCTION_LAYER_PATTERN = '(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)';

/**
 * The Layers of CreateFunction / UpdateFunctionConfiguration, checked as Lambda checks them before
 * it looks any up: a list of layer version ARNs (each matching the model's pattern), at most five,
 * no layer twice. Undefined when the input has no Layers; [] removes them all.
 */
export function functionLayerArns(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) violation(raw, 'layers', 'Member must be a list');
  if (raw.some((arn) => typeof arn !== 'string' || arn.length === 0 || arn.length > FUNCTION_LAYER_MAX || !LAYER_VERSION_ARN.test(arn))) {
    // Lambda echoes the whole list and every constraint of its members.
    throw validationError([`Value '[${raw.map(String).join(', ')}]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [${rules.maxLength(FUNCTION_LAYER_MAX)}, ${rules.minLength(1)}, ${rules.pattern(FUNCTION_LAYER_PATTERN)}, ${rules.notNull}]`]);
  }
  const arns = raw as string[];
  if (arns.length > MAX_FUNCTION_LAYERS) throw Errors.invalidParameter(`Cannot reference more than ${MAX_FUNCTION_LAYERS} layers.`);
  const seen = new Map<string, string>();
  for (const arn of arns) {
    const layer = arn.slice(0, arn.lastIndexOf(':'));
    const other = seen.get(layer);
    if (other !== undefined) {
      // The same version twice is refused in the same words.
      throw Errors.invalidParameter(`Two different versions of the same layer are not allowed to be referenced in the same function. ${other} and ${arn} are versions of the same layer.`);
    }
    seen.set(layer, arn);
  }
  return arns;
}
