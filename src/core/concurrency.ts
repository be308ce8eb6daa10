import type { ThrottleReason } from './errors.js';

/**
 * Admission under Lambda's concurrency model. A function with reserved concurrency R may run
 * at most R at once (R = 0 means always throttled) and never takes from the unreserved pool;
 * every other function shares the unreserved pool: account limit minus the sum of all
 * reservations and of the provisioned concurrency of functions without one. A function's
 * invocations run on its provisioned concurrency first, and beyond it on the pool (Lambda's
 * spillover).
 */
export interface AdmissionInput {
  accountLimit: number;
  /** Sum of reserved concurrency over all functions. */
  totalReserved: number;
  /** This function's reservation, or null. */
  reserved: number | null;
  /** In-flight invocations of this function. */
  inFlightFunction: number;
  /** In-flight invocations of all functions without a reservation, beyond their provisioned concurrency. */
  inFlightUnreserved: number;
  /** This function's provisioned concurrency (all its configs), and how many of its invocations run on it. */
  provisioned?: number;
  inFlightProvisioned?: number;
  /**
   * Provisioned concurrency of the functions without a reservation: taken out of the unreserved
   * pool (a reserved function's comes out of its reservation).
   */
  totalProvisioned?: number;
}

/** `provisioned`: the invocation runs on the function's provisioned concurrency, not the pool. */
export type AdmissionDecision = { admit: true; provisioned?: true } | { admit: false; reason: ThrottleReason };

export function decideAdmission(i: AdmissionInput): AdmissionDecision {
  if (i.reserved !== null) {
    return i.inFlightFunction < i.reserved
      ? { admit: true }
      : { admit: false, reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' };
  }
  if ((i.inFlightProvisioned ?? 0) < (i.provisioned ?? 0)) return { admit: true, provisioned: true };
  const pool = Math.max(0, i.accountLimit - i.totalReserved - (i.totalProvisioned ?? 0));
  return i.inFlightUnreserved < pool ? { admit: true } : { admit: false, reason: 'ConcurrentInvocationLimitExceeded' };
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
