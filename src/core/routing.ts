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

/**
 * How the provisioned concurrency of an alias is spread over its versions: in proportion to
 * their weights (Lambda allocates a weighted alias's provisioned concurrency to both versions),
 * each extra version its rounded share, the primary version the rest. Versions with nothing
 * are left out.
 */
export function splitByWeight(count: number, primary: string, additional: Record<string, number>): Array<{ version: string; count: number }> {
  const out: Array<{ version: string; count: number }> = [];
  let rest = count;
  for (const [version, weight] of Object.entries(additional)) {
    const share = Math.min(rest, Math.round(count * weight));
    if (share > 0) out.push({ version, count: share });
    rest -= share;
  }
  if (rest > 0) out.unshift({ version: primary, count: rest });
  return out;
}
