import { decideAdmission } from '../core/concurrency.js';
import { Errors } from '../core/errors.js';

/** One admitted invocation: give its place back with release(). */
export interface Lease {
  release(): void;
  /** The provisioned concurrency allocation it was admitted on (its environments are for it), or null: on demand. */
  allocation: string | null;
}

/** One allocation's provisioned concurrency and its invocations running on it. */
interface Allocation {
  count: number;
  inFlight: number;
}

/**
 * In-process lease coordinator: counts in-flight invocations per provisioned concurrency
 * allocation, per function (on demand) and in the unreserved pool, and admits or refuses under
 * the account, reserved and provisioned limits. A refused request is refused at once (429),
 * never queued.
 */
export class LocalLeases {
  /** On-demand invocations in flight, per function. */
  private readonly onDemand = new Map<string, number>();
  private unreserved = 0;
  private totalReserved = 0;
  /** Per allocation id (core/concurrency.allocationId). */
  private readonly allocations = new Map<string, Allocation>();
  /** Per function: its allocations' ids, their total, and whether that comes out of a reservation. */
  private readonly functions = new Map<string, { ids: string[]; total: number; reserved: boolean }>();
  private totalProvisioned = 0;

  constructor(private accountLimit: number) {}

  /**
   * A function's provisioned concurrency: each allocation's count (none: no provisioned
   * concurrency). Without a reservation its total is taken out of the unreserved pool.
   */
  setProvisioned(functionName: string, counts: ReadonlyMap<string, number>, reserved: boolean): void {
    const prev = this.functions.get(functionName);
    if (prev && !prev.reserved) this.totalProvisioned -= prev.total;
    let total = 0;
    for (const [id, count] of counts) {
      total += count;
      // Changed in place: leases granted on it release this same entry.
      const a = this.allocations.get(id);
      if (a) a.count = count;
      else this.allocations.set(id, { count, inFlight: 0 });
    }
    for (const id of prev?.ids ?? []) {
      if (counts.has(id)) continue;
      const a = this.allocations.get(id)!;
      a.count = 0;
      if (a.inFlight === 0) this.allocations.delete(id);
    }
    if (!reserved) this.totalProvisioned += total;
    if (counts.size > 0) this.functions.set(functionName, { ids: [...counts.keys()], total, reserved });
    else this.functions.delete(functionName);
  }

  setTotalReserved(total: number): void {
    this.totalReserved = total;
  }

  setAccountLimit(limit: number): void {
    this.accountLimit = limit;
  }

  /**
   * Takes a lease or throws TooManyRequestsException. `allocation`: the provisioned concurrency
   * allocation of the version or alias the invocation names, when it may have one.
   */
  acquire(functionName: string, reserved: number | null, allocation?: string): Lease {
    const inFlightFunction = this.onDemand.get(functionName) ?? 0;
    const pc = allocation === undefined ? undefined : this.allocations.get(allocation);
    const decision = decideAdmission({
      accountLimit: this.accountLimit,
      totalReserved: this.totalReserved,
      reserved,
      inFlightFunction,
      inFlightUnreserved: this.unreserved,
      provisioned: pc?.count ?? 0,
      inFlightProvisioned: pc?.inFlight ?? 0,
      functionProvisioned: this.functions.get(functionName)?.total ?? 0,
      totalProvisioned: this.totalProvisioned,
    });
    if (!decision.admit) throw Errors.tooManyRequests('Rate Exceeded.', decision.reason);
    if (decision.provisioned === true && pc !== undefined) return this.onAllocation(allocation!, pc);
    this.onDemand.set(functionName, inFlightFunction + 1);
    const pooled = reserved === null;
    if (pooled) this.unreserved++;
    let released = false;
    return {
      allocation: null,
      release: () => {
        if (released) return;
        released = true;
        const n = (this.onDemand.get(functionName) ?? 1) - 1;
        if (n <= 0) this.onDemand.delete(functionName);
        else this.onDemand.set(functionName, n);
        if (pooled) this.unreserved--;
      },
    };
  }

  private onAllocation(id: string, pc: Allocation): Lease {
    pc.inFlight++;
    let released = false;
    return {
      allocation: id,
      release: () => {
        if (released) return;
        released = true;
        pc.inFlight--;
        if (pc.count === 0 && pc.inFlight === 0 && this.allocations.get(id) === pc) this.allocations.delete(id);
      },
    };
  }
}
