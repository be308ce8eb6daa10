/**
 * Alias traffic shifting: the alias points at a primary version and may send a weighted share
 * of invocations to one additional version. `random` is a number in [0, 1), injected.
 */
export function pickAliasVersion(primary: string, additional: Record<string, number>, random: number): string {
  let acc = 0;
  for (const [version, weight] of Object.entries(additional)) {
    acc += weight;
    if (random < acc) return version;
  }
  return primary;
}
