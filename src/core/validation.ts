import { Errors, type StratusError } from './errors.js';

/**
 * AWS's model-constraint messages ("1 validation error detected: Value '64' at 'memorySize'
 * failed to satisfy constraint: Member must have value greater than or equal to 128"), collected
 * so that one request reports every violated constraint at once, as AWS does.
 */
export class Violations {
  private readonly list: string[] = [];

  /** Records one violation of `rule` by `value` at `field` (a null value prints as `null`). */
  add(value: unknown, field: string, rule: string): this {
    const shown = value === null || value === undefined ? 'null' : `'${typeof value === 'object' ? JSON.stringify(value) : String(value)}'`;
    this.list.push(`Value ${shown} at '${field}' failed to satisfy constraint: ${rule}`);
    return this;
  }

  /** An optional integer member's bounds (`min`..`max`): absent passes; otherwise an integer within them. */
  range(value: unknown, field: string, min: number, max: number): this {
    if (value === undefined || value === null) return this;
    if (typeof value !== 'number' || !Number.isInteger(value)) return this.add(value, field, 'Member must be an integer');
    if (value < min) return this.add(value, field, rules.minValue(min));
    if (value > max) return this.add(value, field, rules.maxValue(max));
    return this;
  }

  /** A violation whose value AWS does not echo (secrets, maps). */
  addUnvalued(field: string, rule: string): this {
    this.list.push(`Value at '${field}' failed to satisfy constraint: ${rule}`);
    return this;
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** Throws ValidationException listing every violation, if any. */
  throwIfAny(): void {
    if (this.list.length) throw validationError(this.list);
  }
}

export function validationError(violations: string[]): StratusError {
  const n = violations.length;
  return Errors.validation(`${n} validation error${n === 1 ? '' : 's'} detected: ${violations.join('; ')}`);
}

/** Throws the single-violation ValidationException. */
export function violation(value: unknown, field: string, rule: string): never {
  const v = new Violations().add(value, field, rule);
  v.throwIfAny();
  throw new Error('unreachable');
}

export const rules = {
  notNull: 'Member must not be null',
  minValue: (n: number) => `Member must have value greater than or equal to ${n}`,
  maxValue: (n: number) => `Member must have value less than or equal to ${n}`,
  minLength: (n: number) => `Member must have length greater than or equal to ${n}`,
  maxLength: (n: number) => `Member must have length less than or equal to ${n}`,
  pattern: (p: string) => `Member must satisfy regular expression pattern: ${p}`,
  enumOf: (values: readonly string[]) => `Member must satisfy enum value set: [${values.join(', ')}]`,
};

/**
 * A list operation's MaxItems: `fallback` when not given, else an integer from 1 to `max` (the
 * model's bound), or ValidationException.
 */
export function maxItems(raw: unknown, fallback = 50, max = 10000): number {
  if (raw === undefined || raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) violation(raw, 'maxItems', 'Member must be an integer');
  if (n < 1) violation(n, 'maxItems', rules.minValue(1));
  if (n > max) violation(n, 'maxItems', rules.maxValue(max));
  return n;
}
