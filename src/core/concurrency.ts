import type { ThrottleReason } from './errors.js';

/**
 * Admission under Lambda's concurrency model. A function with reserved concurrency R may run
 * at most R at once (R = 0 means always throttled) and never takes from the unreserved pool;
 * every other function shares the unreserved pool: account limit minus the sum of all
 * reservations.
 */
export interface AdmissionInput {
  accountLimit: number;
  /** Sum of reserved concurrency over all functions. */
  totalReserved: number;
  /** This function's reservation, or null. */
  reserved: number | null;
  /** In-flight invocations of this function. */
  inFlightFunction: number;
  /** In-flight invocations of all functions without a reservation. */
  inFlightUnreserved: number;
}

export type AdmissionDecision = { admit: true } | { admit: false; reason: ThrottleReason };

export function decideAdmission(i: AdmissionInput): AdmissionDecision {
  if (i.reserved !== null) {
    return i.inFlightFunction < i.reserved
      ? { admit: true }
      : { admit: false, reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' };
  }
  const pool = Math.max(0, i.accountLimit - i.totalReserved);
  return i.inFlightUnreserved < pool ? { admit: true } : { admit: false, reason: 'ConcurrentInvocationLimitExceeded' };
}
