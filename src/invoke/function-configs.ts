import { functionArn, isNumericVersion } from '../core/arn.js';
import { Errors } from '../core/errors.js';
import { LATEST, type FunctionSnapshot, type Locale } from '../core/model.js';
import { maxItems as pageSize } from '../core/validation.js';
import type { ControlSnapshot, SqlDatabase } from '../ports/index.js';

/**
 * What the per-function, per-qualifier configs kept beside the invoke pipeline (event invoke
 * configs, provisioned concurrency) share: finding the function and its qualifier, and a page size.
 */

/** The function (and its version or alias, when a qualifier other than $LATEST is given), or ResourceNotFoundException. */
export async function requireFunction(snapshot: ControlSnapshot, locale: Locale, name: string, qualifier: string | undefined): Promise<FunctionSnapshot> {
  let fs = snapshot.get(name);
  if (!fs || !hasQualifier(fs, qualifier)) fs = await snapshot.lookup(name, (f) => hasQualifier(f, qualifier));
  const notFound = () => Errors.resourceNotFound(`Function not found: ${functionArn(locale, name, qualifier)}`);
  if (!fs || !hasQualifier(fs, qualifier)) throw notFound();
  return fs;
}

/** Whether the function has the qualifier (none, $LATEST, a version or an alias). */
export function hasQualifier(fs: FunctionSnapshot, qualifier: string | undefined): boolean {
  if (qualifier === undefined || qualifier === LATEST) return true;
  return isNumericVersion(qualifier) ? fs.versions.has(qualifier) : fs.aliases.has(qualifier);
}

/** A List operation's MaxItems (1-50, the model's bound; 50 when not given), or ValidationException. */
export function maxItems(raw: unknown): number {
  return pageSize(raw, 50, 50);
}

/**
 * One page of a function's configs in `table` (one row per qualifier), in qualifier order, after
 * `marker`; `nextMarker` when more follow.
 */
export async function listPage<T extends { qualifier: string }>(
  sql: SqlDatabase, table: string, functionName: string, marker: string | undefined, max: number, fromRow: (r: any) => T,
): Promise<{ configs: T[]; nextMarker?: string }> {
  let q = sql.db.selectFrom(table).selectAll().where('function_name', '=', functionName);
  if (marker) q = q.where('qualifier', '>', marker);
  const rows = await q.orderBy('qualifier').limit(max + 1).execute();
  const configs = rows.slice(0, max).map(fromRow);
  return rows.length > max ? { configs, nextMarker: configs[configs.length - 1]!.qualifier } : { configs };
}
