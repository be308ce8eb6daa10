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
};

/** Patterns and limits from botocore's logs 2014-03-28 model. */
export const LOG_GROUP_NAME = { min: 1, max: 512, pattern: '[\\.\\-_/#A-Za-z0-9]+' };
export const LOG_GROUP_PATTERN = { min: 0, max: 512, pattern: '[\\.\\-_/#A-Za-z0-9]*' };
export const LOG_GROUP_IDENTIFIER = { min: 1, max: 2048, pattern: '[\\w#+=/:,.@-]*' };
export const LOG_STREAM_NAME = { min: 1, max: 512, pattern: '[^:*]*' };
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
    if (rule.pattern && !new RegExp(`^(?:${rule.pattern})$`, 'u').test(v)) {
      this.fail(v, field, `satisfy regular expression pattern: ${rule.pattern}`);
    }
    const len = [...v].length;
    if (rule.min !== undefined && len < rule.min) this.fail(v, field, `have length greater than or equal to ${rule.min}`);
    if (rule.max !== undefined && len > rule.max) this.fail(v, field, `have length less than or equal to ${rule.max}`);
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

  stringList(field: string, rule: { min?: number; max?: number; item?: StringRule } = {}): string[] | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) return undefined;
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
