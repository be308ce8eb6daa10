import type { ThrottleReason } from './errors.js';

/**
 * Admission under Lambda's concurrency model. Provisioned concurrency belongs to the version or
 * alias it was configured on: an invocation naming that qualifier runs on it while fewer than
 * its count of that qualifier's invocations do, whatever else is busy. Beyond it (Lambda's
 * spillover), and for every other invocation, on-demand concurrency: a function with reserved
 * concurrency R may run R less its provisioned concurrency on demand (R = 0 means always
 * throttled) and never takes from the unreserved pool; every other function shares the
 * unreserved pool: account limit minus the sum of all reservations and of the provisioned
 * concurrency of functions without one.
 */
export interface AdmissionInput {
  accountLimit: number;
  /** Sum of reserved concurrency over all functions. */
  totalReserved: number;
  /** This function's reservation, or null. */
  reserved: number | null;
  /** In-flight invocations of this function not on provisioned concurrency (on demand). */
  inFlightFunction: number;
  /** In-flight on-demand invocations of all functions without a reservation. */
  inFlightUnreserved: number;
  /**
   * The provisioned concurrency of the version or alias this invocation names (for a weighted
   * alias, its share on the version it was routed to), and how many of its invocations run on it.
   */
  provisioned?: number;
  inFlightProvisioned?: number;
  /** This function's provisioned concurrency (all its configs): out of its reservation, when it has one. */
  functionProvisioned?: number;
  /**
   * Provisioned concurrency of the functions without a reservation: taken out of the unreserved
   * pool (a reserved function's comes out of its reservation).
   */
  totalProvisioned?: number;
}

/** `provisioned`: the invocation runs on its version's or alias's provisioned concurrency, not on demand. */
export type AdmissionDecision = { admit: true; provisioned?: true } | { admit: false; reason: ThrottleReason };

export function decideAdmission(i: AdmissionInput): AdmissionDecision {
  if ((i.inFlightProvisioned ?? 0) < (i.provisioned ?? 0)) return { admit: true, provisioned: true };
  if (i.reserved !== null) {
    const onDemand = Math.max(0, i.reserved - (i.functionProvisioned ?? 0));
    return i.inFlightFunction < onDemand
      ? { admit: true }
      : { admit: false, reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' };
  }
  const pool = Math.max(0, i.accountLimit - i.totalReserved - (i.totalProvisioned ?? 0));
  return i.inFlightUnreserved < pool ? { admit: true } : { admit: false, reason: 'ConcurrentInvocationLimitExceeded' };
}

/**
 * Names one provisioned concurrency allocation: a config (its function and qualifier) on one
 * version it covers. Admission counts each apart, and the execution service keeps each one's
 * environments apart, so that an invocation admitted on it runs on them.
 */
export function allocationId(functionName: string, qualifier: string, version: string): string {
  return `${functionName}\0${qualifier}\0${version}`;
}

/** A function's provisioned concurrency (the sum of its configs), and whether it has a reservation. */
export interface ProvisionedTotal {
  total: number;
  reserved: boolean;
}

/**
 * The provisioned concurrency taken out of the unreserved pool: that of the functions without a
 * reservation (a reserved function's comes out of its reservation), `except`'s left out.
 */
export function pooledProvisioned(totals: ReadonlyMap<string, ProvisionedTotal>, except?: string): number {
  let sum = 0;
  for (const [name, t] of totals) if (name !== except && !t.reserved) sum += t.total;
  return sum;
}
