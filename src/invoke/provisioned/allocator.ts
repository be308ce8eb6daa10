import { isNumericVersion } from '../../core/arn.js';
import { allocationId } from '../../core/concurrency.js';
import { LATEST, type Locale } from '../../core/model.js';
import { splitByWeight } from '../../core/routing.js';
import type { ChangeFeed, ControlSnapshot, ExecutionService, ExecutionTarget, ProvisionProgress } from '../../ports/index.js';
import { executionTarget } from '../invoker.js';
import { PROVISIONED_CHANGE, type ProvisionedConfig, type ProvisionedConfigs, type ProvisionedStatus } from './configs.js';

/** What was last asked of the execution service for one allocation id. */
interface Asked {
  target: ExecutionTarget;
  count: number;
  /** The config's Put it serves. */
  lastModified: number;
}

/**
 * The data plane's side of provisioned concurrency: for each config, the versions it covers (an
 * alias's, split by their weights) and how many environments each keeps initialized, asked of
 * the execution service, whose progress is recorded on the config (IN_PROGRESS, READY, FAILED).
 * It follows the configs (their change events) and the functions (a version or alias deleted,
 * an alias pointed elsewhere, a function deleted).
 */
export class ProvisionedAllocator {
  /** allocation id (function \0 qualifier \0 version) -> what the execution service keeps for it. */
  private readonly asked = new Map<string, Asked>();
  /** Functions that have (or just had) a config: only their changes are reconciled. */
  private readonly withConfigs = new Set<string>();
  /** function \0 qualifier -> the reporter of its config's current Put. */
  private readonly reporters = new Map<string, Reporter>();
  /** Per function: its reconciliations, one after another. */
  private readonly chains = new Map<string, Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly deps: {
      configs: ProvisionedConfigs; snapshot: ControlSnapshot; execution: ExecutionService; changes: ChangeFeed; locale: Locale;
      /**
       * Admission counts each allocation's provisioned concurrency for the invocations of its
       * config's qualifier, and the function's total out of the unreserved pool when it has no reservation.
       */
      leases: { setProvisioned(functionName: string, counts: ReadonlyMap<string, number>, reserved: boolean): void };
    },
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = this.deps.changes.subscribe((ev) => {
      if (ev.kind === 'resource' && ev.type === PROVISIONED_CHANGE) {
        this.withConfigs.add(ev.id);
        void this.reconcile(ev.id);
      } else if (ev.kind === 'function') {
        // Most functions have no config: their changes cost nothing here.
        if (this.withConfigs.has(ev.name)) void this.reconcile(ev.name);
      } else if (ev.kind === 'function-deleted') this.forgetFunction(ev.name);
      else if (ev.kind === 'resync') void this.resync();
    });
    for (const name of await this.deps.configs.functionNames()) {
      this.withConfigs.add(name);
      void this.reconcile(name);
    }
  }

  /** Every function with a config reconciled again, and those of functions no longer known. */
  private async resync(): Promise<void> {
    for (const name of await this.deps.configs.functionNames()) this.withConfigs.add(name);
    for (const name of [...this.withConfigs]) void this.reconcile(name);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
  }

  /** Brings one function's allocations in line with its configs and its versions and aliases. */
  reconcile(name: string): Promise<void> {
    const next = (this.chains.get(name) ?? Promise.resolve()).then(() => this.apply(name)).catch(() => undefined);
    this.chains.set(name, next);
    void next.then(() => { if (this.chains.get(name) === next) this.chains.delete(name); });
    return next;
  }

  private async apply(name: string): Promise<void> {
    if (this.stopped) return;
    await this.deps.snapshot.settle();
    const fs = this.deps.snapshot.get(name);
    const configs = fs ? await this.deps.configs.ofFunction(name) : [];
    const wanted = new Map<string, number>();
    for (const cfg of configs) {
      const shares = this.sharesOf(cfg);
      if (!shares) {
        await this.deps.configs.forget(cfg);
        continue;
      }
      // One reporter per config and Put, kept across passes: a share left as it was (not asked
      // again) keeps reporting to it, beside one that moved (a weighted alias's other version).
      const key = `${name}\0${cfg.qualifier}`;
      let report = this.reporters.get(key);
      if (!report || report.cfg.lastModified !== cfg.lastModified) {
        report = new Reporter(this.deps.configs, cfg);
        this.reporters.set(key, report);
      }
      const ids = shares.map((share) => allocationId(name, cfg.qualifier, share.target.version));
      report.cover(ids);
      shares.forEach((share, i) => {
        const id = ids[i]!;
        wanted.set(id, share.count);
        const prev = this.asked.get(id);
        if (prev && prev.target.revisionId === share.target.revisionId && prev.count === share.count && prev.lastModified === cfg.lastModified) return;
        this.asked.set(id, { target: share.target, count: share.count, lastModified: cfg.lastModified });
        this.deps.execution.provision(id, share.target, share.count, (p) => this.reporters.get(key)?.update(id, p));
      });
    }
    for (const key of [...this.reporters.keys()]) {
      if (key.startsWith(`${name}\0`) && !configs.some((c) => key === `${name}\0${c.qualifier}`)) this.reporters.delete(key);
    }
    this.deps.leases.setProvisioned(name, wanted, (fs?.fn.reservedConcurrency ?? null) !== null);
    if (configs.length === 0) this.withConfigs.delete(name);
    else this.withConfigs.add(name);
    for (const [id, a] of this.asked) {
      if (!id.startsWith(`${name}\0`) || wanted.has(id)) continue;
      this.asked.delete(id);
      this.deps.execution.provision(id, a.target, 0, () => undefined);
    }
  }

  /** The versions a config covers and each one's count; null when its version or alias is gone. */
  private sharesOf(cfg: ProvisionedConfig): Array<{ target: ExecutionTarget; count: number }> | null {
    const fs = this.deps.snapshot.get(cfg.functionName);
    if (!fs || cfg.qualifier === LATEST) return null;
    let split: Array<{ version: string; count: number }>;
    if (isNumericVersion(cfg.qualifier)) {
      if (!fs.versions.has(cfg.qualifier)) return null;
      split = [{ version: cfg.qualifier, count: cfg.requested }];
    } else {
      const alias = fs.aliases.get(cfg.qualifier);
      if (!alias) return null;
      split = splitByWeight(cfg.requested, alias.functionVersion, alias.additionalVersionWeights);
    }
    const out: Array<{ target: ExecutionTarget; count: number }> = [];
    for (const s of split) {
      const v = fs.versions.get(s.version);
      if (v && v.version !== LATEST) out.push({ target: executionTarget(this.deps.locale, v), count: s.count });
    }
    return out;
  }

  private forgetFunction(name: string): void {
    this.withConfigs.delete(name);
    this.deps.leases.setProvisioned(name, new Map(), false);
    // The execution service ends the function's environments, its allocations with them.
    for (const id of [...this.asked.keys()]) if (id.startsWith(`${name}\0`)) this.asked.delete(id);
    for (const key of [...this.reporters.keys()]) if (key.startsWith(`${name}\0`)) this.reporters.delete(key);
  }
}

/** Adds up a config's allocations (one per version it covers) into its status, written when it changes. */
class Reporter {
  private last = '';
  private writing: Promise<void> = Promise.resolve();
  private readonly progress = new Map<string, ProvisionProgress>();
  private ids: readonly string[] = [];

  constructor(private readonly configs: ProvisionedConfigs, readonly cfg: ProvisionedConfig) {}

  /** The allocations the config is made of now (a moved share's old one no longer counts). */
  cover(ids: readonly string[]): void {
    this.ids = ids;
    for (const id of [...this.progress.keys()]) if (!ids.includes(id)) this.progress.delete(id);
    this.write();
  }

  update(id: string, p: ProvisionProgress): void {
    if (!this.ids.includes(id)) return;
    this.progress.set(id, p);
    this.write();
  }

  private write(): void {
    if (this.ids.length === 0) return;
    let allocated = 0;
    let failure: string | undefined;
    for (const p of this.progress.values()) {
      allocated += p.allocated;
      failure ??= p.failure;
    }
    const complete = this.progress.size >= this.ids.length && allocated >= this.cfg.requested;
    const status: ProvisionedStatus = failure !== undefined ? 'FAILED' : complete ? 'READY' : 'IN_PROGRESS';
    const key = `${allocated}\0${status}\0${failure ?? ''}`;
    if (key === this.last) return;
    this.last = key;
    this.writing = this.writing.then(() => this.configs.report(this.cfg, allocated, status, failure ?? null)).catch(() => undefined);
  }
}
