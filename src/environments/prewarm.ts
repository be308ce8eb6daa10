import type { Clock } from '../ports/clock.js';
import type { LogSink } from '../ports/logs.js';
import { runtimeBootEnv } from './env-vars.js';
import { discardBooted, newEnvId, type BootedRuntime } from './environment.js';
import { LogWriter } from './log-writer.js';
import { RuntimeApiServer } from './runtime-api.js';
import { presentedRuntime, shippedRuntime, type RuntimeLaunch } from './runtimes.js';
import type { SandboxDriver, SandboxLimits } from './sandbox/types.js';

/**
 * The sandbox a pooled runtime boots in: function limits are applied at assignment. Its memory is
 * Lambda's largest memory size because node sizes its heap once, at start, from its cgroup's
 * limit (about half of it): booted under 1024 MB, a 2048 MB function's heap stopped at 524 MB
 * ("JavaScript heap out of memory" with 1.5 GB of its memory unused). Booted under 10240 MB the
 * heap may grow to ~2 GB, and the function's own memory limit, set at assignment, is what stops it.
 */
export const POOL_LIMITS: SandboxLimits = { memoryMB: 10240, ephemeralMB: 512 };
const DEMAND_WINDOW_MS = 60_000;
const MAX_POOL = 8;

type Family = 'node' | 'python';

interface FamilyPool {
  ready: BootedRuntime[];
  launching: number;
  /** Hits whose cold start is not done yet: no process boots beside them (see `take`). */
  held: number;
  coldStarts: number[];
  hits: number;
  misses: number;
}

/**
 * Booted-but-unassigned runtime processes per runtime family, already inside their sandbox and
 * cgroups, so a cold start only loads the function's code. The pool keeps `base` processes and
 * grows towards the number of cold starts seen in the last minute (capped at 8), refilling in
 * the background one process at a time.
 */
export class PrewarmPool {
  private readonly pools: Record<Family, FamilyPool> = {
    node: { ready: [], launching: 0, held: 0, coldStarts: [], hits: 0, misses: 0 },
    python: { ready: [], launching: 0, held: 0, coldStarts: [], hits: 0, misses: 0 },
  };
  private stopped = false;

  constructor(
    private readonly driver: SandboxDriver,
    private readonly base: number,
    private readonly keepPaths: string[],
    private readonly logSink: LogSink,
    private readonly clock: Clock,
    private readonly runtimeFor: (f: Family) => RuntimeLaunch | null = shippedRuntime,
  ) {}

  start(): void {
    if (this.base <= 0) return;
    for (const f of ['node', 'python'] as Family[]) this.launch(f);
  }

  /**
   * Takes a booted runtime whose sandbox fits, or null (the caller cold-starts). After a hit the
   * caller says when its cold start is done (`refill`): booting the replacement costs a whole
   * runtime start of CPU (a bare `node -e 0` is 30-60 ms here), which on a small host would slow
   * the very cold start the pool exists to speed up; until then nothing boots, not even the
   * next step of a refill already under way. After a miss the pool refills at once.
   */
  take(family: Family, limits: SandboxLimits, paths: string[]): BootedRuntime | null {
    if (this.base <= 0) return null;
    const p = this.pools[family];
    const now = this.clock.now();
    p.coldStarts.push(now);
    while (p.coldStarts.length && p.coldStarts[0]! < now - DEMAND_WINDOW_MS) p.coldStarts.shift();
    let found: BootedRuntime | null = null;
    for (let i = p.ready.length - 1; i >= 0; i--) {
      const b = p.ready[i]!;
      if (b.handle.child.exitCode !== null || b.handle.child.signalCode !== null) { p.ready.splice(i, 1); continue; }
      if (b.handle.fits(limits, paths)) { found = b; p.ready.splice(i, 1); break; }
    }
    if (found) {
      p.hits++;
      p.held++;
    } else {
      p.misses++;
      setImmediate(() => this.refill(family));
    }
    return found;
  }

  /** A hit's cold start is done (call once per hit): tops the pool up, one process at a time. */
  refill(family: Family): void {
    const p = this.pools[family];
    if (p.held > 0) p.held--;
    setImmediate(() => this.launch(family));
  }

  private target(family: Family): number {
    const recent = this.pools[family].coldStarts.length;
    return Math.min(Math.max(this.base, MAX_POOL), Math.max(this.base, recent));
  }

  private launch(family: Family): void {
    const p = this.pools[family];
    if (this.stopped || p.held > 0 || p.launching > 0 || p.ready.length >= this.target(family)) return;
    const rt = this.runtimeFor(family);
    if (!rt) return;
    p.launching++;
    let b: BootedRuntime;
    try {
      const envId = newEnvId();
      const shown = presentedRuntime(rt, this.driver.runtimeRoot());
      const handle = this.driver.launch({
        envId, command: shown.command, env: runtimeBootEnv(this.driver, { STRATUS_POOLED: '1' }), limits: POOL_LIMITS,
        dropPrivileges: false, groups: [], keepPaths: this.keepPaths, deferCpuLimit: true, framedLog: true, apiChannel: true,
        runtimeDir: rt.runtimeDir,
      });
      // Its Runtime API listens from now on, so that a cold start only binds it to the environment.
      const api = new RuntimeApiServer();
      api.listen().catch(() => { /* the environment's own listen() reports it */ });
      b = {
        envId, family, handle, runtimeDir: shown.runtimeDir, api,
        logs: new LogWriter(this.logSink, this.clock, handle.child.stdout, handle.child.stderr, handle.logStream),
      };
    } catch {
      p.launching--;
      return;
    }
    const child = b.handle.child;
    child.stdin?.on('error', () => { /* ignore */ });
    child.once('exit', () => {
      const i = p.ready.indexOf(b);
      if (i >= 0) { p.ready.splice(i, 1); discardBooted(b); }
    });
    // Ready as soon as it is spawned: the runtime reads its assignment from stdin whenever it
    // gets there, so even a process still booting is a head start. Launch the next one shortly.
    child.once('spawn', () => {
      p.launching--;
      if (this.stopped) { discardBooted(b); return; }
      p.ready.push(b);
      setTimeout(() => this.launch(family), 20).unref();
    });
    child.once('error', () => { p.launching--; discardBooted(b); });
  }

  stats(): Record<Family, { ready: number; hits: number; misses: number; target: number }> {
    const s = (f: Family) => ({ ready: this.pools[f].ready.length, hits: this.pools[f].hits, misses: this.pools[f].misses, target: this.target(f) });
    return { node: s('node'), python: s('python') };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.pools.node.ready, ...this.pools.python.ready];
    this.pools.node.ready = [];
    this.pools.python.ready = [];
    await Promise.all(all.map(discardBooted));
  }
}
