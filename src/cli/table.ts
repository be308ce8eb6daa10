/**
 * The one table formatter of the `stratus` command: a header row and data rows, columns
 * separated by two spaces and padded to the widest cell, the last column left ragged, no
 * trailing blanks.
 */
export function formatTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => head.map((_, i) => (i === head.length - 1 ? (r[i] ?? '') : (r[i] ?? '').padEnd(widths[i]!))).join('  ').trimEnd();
  return [head, ...rows].map(line).join('\n');
}

/** `key  value` lines with the keys padded (a record printed for humans). */
export function formatRecord(pairs: Array<[string, string | number | undefined | null]>): string {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== null && v !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${String(v)}`.trimEnd()).join('\n');
}

/** An ISO timestamp shortened for a table: `2026-11-22T10:00:00.123Z` -> `2026-11-22 10:00:00Z`. */
export function shortTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
