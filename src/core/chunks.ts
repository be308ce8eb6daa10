/**
 * Splits rows for multi-row INSERTs into chunks whose sizes come from a short fixed ladder
 * (max, max/4, max/16, ... 1), largest first. A statement's SQL text depends only on its row
 * count, so batches of any size reuse a handful of prepared statements instead of preparing a
 * new text for almost every batch (preparing a multi-row INSERT costs more than running it).
 */
export function statementChunks<T>(rows: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  let i = 0;
  let size = Math.max(1, Math.floor(max));
  while (i < rows.length) {
    while (size > 1 && rows.length - i < size) size = Math.max(1, Math.floor(size / 4));
    out.push(rows.slice(i, i + size));
    i += size;
  }
  return out;
}
