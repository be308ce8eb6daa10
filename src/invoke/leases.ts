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

  constructor(private accountLimit: number) {}

  setTotalReserved(total: number): void {
    this.totalReserved = total;
  }

  setAccountLimit(limit: number): void {
    this.accountLimit = limit;
  }

  /** Takes a lease or throws TooManyRequestsException. Returns the release function. */
  acquire(functionName: string, reserved: number | null): () => void {
    const inFlightFunction = this.perFunction.get(functionName) ?? 0;
    const decision = decideAdmission({
      accountLimit: this.accountLimit,
      totalReserved: this.totalReserved,
      reserved,
      inFlightFunction,
      inFlightUnreserved: this.unreserved,
    });
    if (!decision.admit) throw Errors.tooManyRequests('Rate Exceeded.', decision.reason);
    this.perFunction.set(functionName, inFlightFunction + 1);
    const pooled = reserved === null;
    if (pooled) this.unreserved++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.perFunction.get(functionName) ?? 1) - 1;
      if (n <= 0) this.perFunction.delete(functionName);
      else this.perFunction.set(functionName, n);
      if (pooled) this.unreserved--;
    };
  }

  inFlight(functionName: string): number {
    return this.perFunction.get(functionName) ?? 0;
  }
}
