import { StratusError } from '../../core/errors.js';

/** CloudWatch Logs client errors: all 400 with the service's names. */
export const LogsErrors = {
  invalidParameter: (message: string) => new StratusError('InvalidParameterException', 400, message),
  groupNotFound: () => new StratusError('ResourceNotFoundException', 400, 'The specified log group does not exist.'),
  streamNotFound: () => new StratusError('ResourceNotFoundException', 400, 'The specified log stream does not exist.'),
  groupExists: () => new StratusError('ResourceAlreadyExistsException', 400, 'The specified log group already exists'),
  streamExists: () => new StratusError('ResourceAlreadyExistsException', 400, 'The specified log stream already exists'),
  invalidToken: () => new StratusError('InvalidParameterException', 400, 'The specified nextToken is invalid.'),
  serialization: (message: string) => new StratusError('SerializationException', 400, message),
  /** What CloudWatch answers for a resourceArn that is not a log group's (a ":*" one included). */
  invalidResourceArn: () => new StratusError('ValidationException', 400, 'Invalid resourceArn'),
  tooManyTags: (resourceName: string) =>
    new StratusError('TooManyTagsException', 400, 'A resource can have no more than 50 tags.', { resourceName }),
};

/** Patterns and limits from botocore's logs 2014-03-28 model. */
export const LOG_GROUP_NAME = { min: 1, max: 512, pattern: '[\\.\\-_/#A-Za-z0-9]+' };
export const LOG_GROUP_PATTERN = { min: 0, max: 512, pattern: '[\\.\\-_/#A-Za-z0-9]*' };
export const LOG_GROUP_IDENTIFIER = { min: 1, max: 2048, pattern: '[\\w#+=/:,.@-]*' };
export const LOG_STREAM_NAME = { min: 1, max: 512, pattern: '[^:*]*' };
export const TAG_KEY = { min: 1, max: 128, pattern: '^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$' };
export const TAG_VALUE = { min: 0, max: 256, pattern: '^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$' };
/** Tags per resource (TagResource: "as many as 50 tags"); also the model's limit of one map. */
export const MAX_TAGS = 50;
export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

interface StringRule {
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: string;
}

/**
 * Collects constraint violations the way the service reports them:
 * "2 validation errors detected: Value 'x' at 'limit' failed to satisfy constraint: ...; ...".
 */
export class Params {
  private readonly errors: string[] = [];

  constructor(private readonly input: Record<string, unknown>) {}

  private fail(value: unknown, field: string, constraint: string): void {
    const shown = value === null || value === undefined ? 'null' : `'${Array.isArray(value) ? `[${value.join(', ')}]` : String(value)}'`;
    this.errors.push(`Value ${shown} at '${field}' failed to satisfy constraint: Member must ${constraint}`);
  }

  string(field: string, rule: StringRule = {}): string | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) {
      if (rule.required) this.fail(v, field, 'not be null');
      return undefined;
    }
    if (typeof v !== 'string') throw LogsErrors.serialization(`Expected a string for '${field}'`);
    this.checkString(v, field, rule);
    return v;
  }

  private checkString(v: string, field: string, rule: StringRule): void {
    for (const c of this.stringViolations(v, rule)) this.fail(v, field, c);
  }

  /** What `v` fails of `rule`, each as "Member must <constraint>" goes on. */
  private stringViolations(v: string, rule: StringRule): string[] {
    const out: string[] = [];
    if (rule.pattern && !new RegExp(`^(?:${rule.pattern})$`, 'u').test(v)) out.push(`satisfy regular expression pattern: ${rule.pattern}`);
    const len = [...v].length;
    if (rule.min !== undefined && len < rule.min) out.push(`have length greater than or equal to ${rule.min}`);
    if (rule.max !== undefined && len > rule.max) out.push(`have length less than or equal to ${rule.max}`);
    return out;
  }

  /**
   * A map of strings (tags). A bad key or value is reported for the whole map, as the service
   * does: "Value '{k=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy
   * constraint: [Member must ...]".
   */
  stringMap(field: string, rule: { required?: boolean; min?: number; max?: number; key: StringRule; value: StringRule }): Record<string, string> | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) {
      if (rule.required) this.fail(v, field, 'not be null');
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) throw LogsErrors.serialization(`Expected a map for '${field}'`);
    const entries = Object.entries(v as Record<string, unknown>);
    for (const [, x] of entries) if (typeof x !== 'string') throw LogsErrors.serialization(`Expected a string in '${field}'`);
    const map = v as Record<string, string>;
    const shown = `{${entries.map(([k, x]) => `${k}=${x}`).join(', ')}}`;
    const raw = (constraint: string) => this.errors.push(`Value '${shown}' at '${field}' failed to satisfy constraint: ${constraint}`);
    if (rule.min !== undefined && entries.length < rule.min) raw(`Member must have length greater than or equal to ${rule.min}`);
    if (rule.max !== undefined && entries.length > rule.max) raw(`Member must have length less than or equal to ${rule.max}`);
    const keys = new Set(entries.flatMap(([k]) => this.stringViolations(k, rule.key)));
    if (keys.size) raw(`Map keys must satisfy constraint: [${[...keys].map((c) => `Member must ${c}`).join(', ')}]`);
    const values = new Set(entries.flatMap(([, x]) => this.stringViolations(x as string, rule.value)));
    if (values.size) raw(`Map value must satisfy constraint: [${[...values].map((c) => `Member must ${c}`).join(', ')}]`);
    return map;
  }

  integer(field: string, rule: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) {
      if (rule.required) this.fail(v, field, 'not be null');
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw LogsErrors.serialization(`Expected a number for '${field}'`);
    const n = Math.trunc(v);
    if (rule.min !== undefined && n < rule.min) this.fail(n, field, `have value greater than or equal to ${rule.min}`);
    if (rule.max !== undefined && n > rule.max) this.fail(n, field, `have value less than or equal to ${rule.max}`);
    return n;
  }

  boolean(field: string): boolean | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw LogsErrors.serialization(`Expected a boolean for '${field}'`);
    return v;
  }

  enumOf<T extends string>(field: string, values: readonly T[]): T | undefined {
    const v = this.string(field);
    if (v !== undefined && !values.includes(v as T)) this.fail(v, field, `satisfy enum value set: [${values.join(', ')}]`);
    return v as T | undefined;
  }

  stringList(field: string, rule: { required?: boolean; min?: number; max?: number; item?: StringRule } = {}): string[] | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) {
      if (rule.required) this.fail(v, field, 'not be null');
      return undefined;
    }
    if (!Array.isArray(v)) throw LogsErrors.serialization(`Expected a list for '${field}'`);
    if (rule.min !== undefined && v.length < rule.min) this.fail(v, field, `have length greater than or equal to ${rule.min}`);
    if (rule.max !== undefined && v.length > rule.max) this.fail(v, field, `have length less than or equal to ${rule.max}`);
    v.forEach((item, i) => {
      if (typeof item !== 'string') throw LogsErrors.serialization(`Expected a string in '${field}'`);
      if (rule.item) this.checkString(item, `${field}.${i + 1}.member`, rule.item);
    });
    return v as string[];
  }

  /** Adds a violation found by the caller (e.g. inside a list of structures). */
  violation(value: unknown, field: string, constraint: string): void {
    this.fail(value, field, constraint);
  }

  /** Throws InvalidParameterException naming every violation found so far. */
  check(): void {
    if (this.errors.length === 0) return;
    const n = this.errors.length;
    throw LogsErrors.invalidParameter(`${n} validation error${n === 1 ? '' : 's'} detected: ${this.errors.join('; ')}`);
  }
}
