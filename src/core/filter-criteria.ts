import { Errors } from './errors.js';
import { matchesPattern, parseEventPattern, type CompiledPattern } from './event-pattern.js';

/**
 * Event source mapping FilterCriteria: up to 5 filters, each an EventBridge event pattern over
 * the record Lambda would deliver. For SQS the body is matched as JSON when it parses, else as the
 * plain string. A record is kept when any filter matches; the others are dropped (deleted).
 */
export interface FilterCriteria {
  Filters: { Pattern: string }[];
}

export const MAX_FILTERS = 5;

export function validateFilterCriteria(input: unknown): FilterCriteria | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== 'object' || Array.isArray(input)) throw Errors.invalidParameter('Invalid filter criteria definition.');
  const filters = (input as Record<string, unknown>).Filters;
  if (filters === undefined || filters === null) return { Filters: [] };
  if (!Array.isArray(filters)) throw Errors.invalidParameter('Invalid filter criteria definition.');
  if (filters.length > MAX_FILTERS) {
    throw Errors.invalidParameter(`The number of filters exceeds the limit of ${MAX_FILTERS}.`);
  }
  const out: FilterCriteria = { Filters: [] };
  for (const f of filters as Record<string, unknown>[]) {
    const pattern = f?.Pattern;
    if (typeof pattern !== 'string' || pattern.length > 4096) throw Errors.invalidParameter('Invalid filter pattern definition.');
    try {
      parseEventPattern(pattern);
    } catch {
      throw Errors.invalidParameter('Invalid filter pattern definition.');
    }
    out.Filters.push({ Pattern: pattern });
  }
  return out;
}

export function compileFilterCriteria(c: FilterCriteria | undefined): CompiledPattern[] {
  return (c?.Filters ?? []).map((f) => parseEventPattern(f.Pattern));
}

/** The SQS record as filters see it: the body parsed when it is JSON. */
export function sqsFilterView(record: Record<string, unknown>): Record<string, unknown> {
  const body = record.body;
  if (typeof body !== 'string') return record;
  try {
    const parsed = JSON.parse(body);
    if (parsed !== null && typeof parsed === 'object') return { ...record, body: parsed };
  } catch {
    /* plain string body */
  }
  return record;
}

/** True when there are no filters or one matches. */
export function recordPassesFilters(filters: readonly CompiledPattern[], view: unknown): boolean {
  if (filters.length === 0) return true;
  return filters.some((p) => matchesPattern(p, view));
}
