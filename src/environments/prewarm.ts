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
/** How often the pool lets go of what demand no longer asks for (see trim). */
const TRIM_EVERY_MS = 10_000;
/**
 * What a pool boots for before any cold start asked: Lambda's default memory size, and Stratus's
 * default runtime (the CLI's).
 */
const FIRST = { memoryMB: 128, runtime: { node: 'nodejs20.x', python: 'python3.12' } } as const;
/** Shapes of the last cold starts, whenever they came, the pool keeps one runtime of each for. */
const RECENT_SHAPES = 3;

type Family = 'node' | 'python';

/**
 * What a runtime is booted as: the command that starts it. A Node.js runtime's heap is sized as
 * it starts, for the function's memory as Lambda sizes it (runtimes.ts nodeHeapFlags), and the
 * Node.js features Lambda turns off for the function's runtime name are off from its start
 * (nodeFeatureFlags): a pooled one fits only functions that would be started with the same
 * command. Python's command is the same for every function.
 */
export interface BootShape {
  launch: RuntimeLaunch;
  /** The memory size and runtime name it was booted for (stats; memory 0: any). */
  memoryMB: number;
  runtime: string;
}

type Shape = BootShape & { key: string };

function shapeOf(family: Family, s: BootShape): Shape {
  return { ...s, memoryMB: family === 'node' ? s.memoryMB : 0, key: s.launch.command.join('\0') };
}

interface FamilyPool {
  ready: Array<BootedRuntime & { shape: Shape }>;
  launching: number;
  /** Hits whose cold start is not done yet: no process boots beside them (see `take`). */
  held: number;
  /** Recent cold starts, with the shape each asked for. */
  coldStarts: Array<{ at: number; shape: Shape }>;
  /** The shape of the last cold start (what the pool keeps `base` runtimes of); null: FIRST's, before any. */
  last: Shape | null;
  /** The distinct shapes of the last cold starts, the latest first (at most RECENT_SHAPES). */
  recent: Shape[];
  hits: number;
  misses: number;
}

/**
 * Booted-but-unassigned runtime processes per runtime family, already inside their sandbox and
 * cgroups, so a cold start only loads the function's code. The pool keeps `base` processes and
 * grows towards the number of cold starts seen in the last minute (capped at 8), refilling in
 * the background one process at a time, and shrinks back as that number falls (trim). Node.js
 * runtimes are booted for a memory size (their heap) and a runtime name's features (see
 * BootShape): the pool boots for the shapes of recent cold starts, in proportion, `base` of them
 * for the last one's, and lets a runtime of a shape no longer asked for go to make room.
 */
export class PrewarmPool {
  private readonly pools: Record<Family, FamilyPool> = {
    node: { ready: [], launching: 0, held: 0, coldStarts: [], last: null, recent: [], hits: 0, misses: 0 },
    python: { ready: [], launching: 0, held: 0, coldStarts: [], last: null, recent: [], hits: 0, misses: 0 },
  };
  private stopped = false;
  private trimmer: NodeJS.Timeout | undefined;

  constructor(
    private readonly driver: SandboxDriver,
    private readonly base: number,
    private readonly keepPaths: string[],
    private readonly logSink: LogSink,
    private readonly clock: Clock,
    /** How a runtime of `runtime` (a runtime name) for `memoryMB` is started (the first shape: FIRST). */
    private readonly runtimeFor: (f: Family, memoryMB: number, runtime: string) => RuntimeLaunch | null = shippedRuntime,
  ) {}

  /** The shape of the last cold start, or before any FIRST's (null: the runtime is not installed). */
  private lastShape(family: Family): Shape | null {
    const p = this.pools[family];
    if (p.last) return p.last;
    const launch = this.runtimeFor(family, FIRST.memoryMB, FIRST.runtime[family]);
    return launch ? (p.last = shapeOf(family, { launch, memoryMB: FIRST.memoryMB, runtime: FIRST.runtime[family] })) : null;
  }

  start(): void {
    if (this.base <= 0) return;
    for (const f of ['node', 'python'] as Family[]) this.launch(f);
    this.trimmer ??= setInterval(() => this.trim(), TRIM_EVERY_MS).unref();
  }

  /**
   * Lets go of the runtimes past what demand asks for now (`plan`): a burst of cold starts grows
   * the pool (to 8 per family: ~450 MB of idle processes), and once the burst is over the
   * minute's cold starts no longer ask for them. Those of a shape with more than its share go
   * first, then the oldest.
   */
  trim(): void {
    for (const f of ['node', 'python'] as Family[]) {
      const p = this.pools[f];
      const { want, target } = this.plan(f);
      while (p.ready.length > target) {
        const over = overShare(p, want);
        const [gone] = p.ready.splice(over < 0 ? 0 : over, 1);
        void discardBooted(gone!);
      }
    }
  }

  /**
   * Takes a booted runtime whose sandbox fits, or null (the caller cold-starts). After a hit the
   * caller says when its cold start is done (`refill`): booting the replacement costs a whole
   * runtime start of CPU (a bare `node -e 0` is 30-60 ms here), which on a small host would slow
   * the very cold start the pool exists to speed up; until then nothing boots, not even the
   * next step of a refill already under way. After a miss the pool refills at once. `boot`: how
   * the function's runtime would be started without the pool (see BootShape).
   */
  take(family: Family, boot: BootShape, limits: SandboxLimits, paths: string[]): BootedRuntime | null {
    if (this.base <= 0) return null;
    const p = this.pools[family];
    const now = this.clock.now();
    const shape = shapeOf(family, boot);
    p.coldStarts.push({ at: now, shape });
    p.last = shape;
    p.recent = [shape, ...p.recent.filter((s) => s.key !== shape.key)].slice(0, RECENT_SHAPES);
    this.forgetOld(p);
    let found: BootedRuntime | null = null;
    for (let i = p.ready.length - 1; i >= 0; i--) {
      const b = p.ready[i]!;
      if (b.handle.child.exitCode !== null || b.handle.child.signalCode !== null) { p.ready.splice(i, 1); continue; }
      if (b.shape.key === shape.key && b.handle.fits(limits, paths)) { found = b; p.ready.splice(i, 1); break; }
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

  /**
   * How many runtimes of each shape the pool keeps (`want`, by shape key): cold starts of that
   * shape in the last minute, `base` for the last one's, one for each of the last few shapes
   * however long ago (functions of two sizes cold-starting in turn minutes apart would otherwise
   * miss every time); and how many in all (`target`): their sum or the last minute's cold starts,
   * at least `base`, at most MAX_POOL. `shapes`: each wanted shape by its key.
   */
  private plan(family: Family): { want: Map<string, number>; target: number; shapes: Map<string, Shape> } {
    const p = this.pools[family];
    this.forgetOld(p);
    const want = new Map<string, number>();
    const shapes = new Map<string, Shape>();
    for (const c of p.coldStarts) { want.set(c.shape.key, (want.get(c.shape.key) ?? 0) + 1); shapes.set(c.shape.key, c.shape); }
    for (const s of p.recent) { want.set(s.key, Math.max(1, want.get(s.key) ?? 0)); shapes.set(s.key, s); }
    const last = this.lastShape(family);
    if (last) { want.set(last.key, Math.max(this.base, want.get(last.key) ?? 0)); shapes.set(last.key, last); }
    let wanted = 0;
    for (const n of want.values()) wanted += n;
    return { want, shapes, target: Math.min(Math.max(this.base, MAX_POOL), Math.max(this.base, p.coldStarts.length, wanted)) };
  }

  private forgetOld(p: FamilyPool): void {
    const since = this.clock.now() - DEMAND_WINDOW_MS;
    while (p.coldStarts.length && p.coldStarts[0]!.at < since) p.coldStarts.shift();
  }

  /**
   * The shape to boot the next runtime as: the one furthest below its share (`plan`), or null
   * when every shape has its share. A full pool first lets go of a runtime of a shape that has
   * more than its share.
   */
  private nextShape(family: Family): Shape | null {
    const p = this.pools[family];
    const { want, target, shapes } = this.plan(family);
    const have = readyByShape(p);
    let best: string | null = null;
    let bestGap = 0;
    for (const [key, n] of want) {
      const gap = Math.min(n, target) - (have.get(key) ?? 0);
      if (gap > bestGap) { best = key; bestGap = gap; }
    }
    if (best === null) return null;
    if (p.ready.length >= target) {
      const i = overShare(p, want);
      if (i < 0) return null;
      const [gone] = p.ready.splice(i, 1);
      void discardBooted(gone!);
    }
    return shapes.get(best)!;
  }

  private launch(family: Family): void {
    const p = this.pools[family];
    if (this.stopped || p.held > 0 || p.launching > 0) return;
    const shape = this.nextShape(family);
    if (shape === null) return;
    const rt = shape.launch;
    p.launching++;
    let b: BootedRuntime & { shape: Shape };
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
        envId, family, handle, runtimeDir: shown.runtimeDir, api, shape,
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

  /**
   * Per family; ready runtimes by the memory size they were booted for (`readyByMemory`, Node.js;
   * 0: any) and by the runtime name (`readyByRuntime`: of the cold start whose shape it has, which
   * other runtime names of the same shape take too).
   */
  stats(): Record<Family, { ready: number; hits: number; misses: number; target: number; readyByMemory: Record<number, number>; readyByRuntime: Record<string, number> }> {
    const s = (f: Family) => {
      const readyByMemory: Record<number, number> = {};
      const readyByRuntime: Record<string, number> = {};
      for (const { shape } of this.pools[f].ready) {
        readyByMemory[shape.memoryMB] = (readyByMemory[shape.memoryMB] ?? 0) + 1;
        readyByRuntime[shape.runtime] = (readyByRuntime[shape.runtime] ?? 0) + 1;
      }
      return { ready: this.pools[f].ready.length, hits: this.pools[f].hits, misses: this.pools[f].misses, target: this.plan(f).target, readyByMemory, readyByRuntime };
    };
    return { node: s('node'), python: s('python') };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.trimmer);
    const all = [...this.pools.node.ready, ...this.pools.python.ready];
    this.pools.node.ready = [];
    this.pools.python.ready = [];
    await Promise.all(all.map(discardBooted));
  }
}

/** How many ready runtimes the pool has of each shape (by key). */
function readyByShape(p: FamilyPool): Map<string, number> {
  const have = new Map<string, number>();
  for (const b of p.ready) have.set(b.shape.key, (have.get(b.shape.key) ?? 0) + 1);
  return have;
}

/** Where the oldest ready runtime of a shape with more than its share (`want`) is, or -1. */
function overShare(p: FamilyPool, want: Map<string, number>): number {
  const have = readyByShape(p);
  return p.ready.findIndex((b) => have.get(b.shape.key)! > (want.get(b.shape.key) ?? 0));
}
