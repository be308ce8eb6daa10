import { decideAdmission } from '../core/concurrency.js';
import { Errors } from '../core/errors.js';

/**
 * In-process lease coordinator: counts in-flight invocations per function and in the
 * unreserved pool, and admits or refuses under the account and reserved limits. A refused
 * request is refused at once (429), never queued.
 */
export class LocalLeases {
  private readonly perFunction = new Map<string, number>();
  private unreserved = 0;
  private totalReserved = 0;
  /** Provisioned concurrency per function, and its invocations running on it. */
  private readonly provisioned = new Map<string, { count: number; reserved: boolean; inFlight: number }>();
  private totalProvisioned = 0;

  constructor(private accountLimit: number) {}

  /**
   * A function's provisioned concurrency (the sum of its configs; 0: none). Without a reservation
   * it is taken out of the unreserved pool.
   */
  setProvisioned(functionName: string, count: number, reserved: boolean): void {
    const prev = this.provisioned.get(functionName);
    if (prev && !prev.reserved) this.totalProvisioned -= prev.count;
    if (!reserved) this.totalProvisioned += count;
    // Changed in place: leases granted on it release this same entry.
    if (prev) {
      prev.count = count;
      prev.reserved = reserved;
      if (count === 0 && prev.inFlight === 0) this.provisioned.delete(functionName);
    } else if (count > 0) {
      this.provisioned.set(functionName, { count, reserved, inFlight: 0 });
    }
  }

  setTotalReserved(total: number): void {
    this.totalReserved = total;
  }

  setAccountLimit(limit: number): void {
    this.accountLimit = limit;
  }

  /** Takes a lease or throws TooManyRequestsException. Returns the release function. */
  acquire(functionName: string, reserved: number | null): () => void {
    const inFlightFunction = this.perFunction.get(functionName) ?? 0;
    const pc = this.provisioned.get(functionName);
    const decision = decideAdmission({
      accountLimit: this.accountLimit,
      totalReserved: this.totalReserved,
      reserved,
      inFlightFunction,
      inFlightUnreserved: this.unreserved,
      provisioned: pc?.count ?? 0,
      inFlightProvisioned: pc?.inFlight ?? 0,
      totalProvisioned: this.totalProvisioned,
    });
    if (!decision.admit) throw Errors.tooManyRequests('Rate Exceeded.', decision.reason);
    this.perFunction.set(functionName, inFlightFunction + 1);
    const onProvisioned = decision.provisioned === true && pc !== undefined;
    const pooled = reserved === null && !onProvisioned;
    if (pooled) this.unreserved++;
    if (onProvisioned) pc.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.perFunction.get(functionName) ?? 1) - 1;
      if (n <= 0) this.perFunction.delete(functionName);
      else this.perFunction.set(functionName, n);
      if (pooled) this.unreserved--;
      if (onProvisioned) {
        pc.inFlight--;
        if (pc.count === 0 && pc.inFlight === 0 && this.provisioned.get(functionName) === pc) this.provisioned.delete(functionName);
      }
    };
  }

  inFlight(functionName: string): number {
    return this.perFunction.get(functionName) ?? 0;
  }
}
