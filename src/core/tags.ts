/** A resource's tags without `keys` (UntagResource and its kin: a key it does not have is no error). */
export function withoutKeys(tags: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([k]) => !keys.includes(k)));
}
