import { parseSchedule, scheduleDue, type Schedule } from '../../core/schedule.js';
import type { Clock } from '../../ports/index.js';
import type { EventsService } from './service.js';
import { ruleEnabled, type RuleRecord } from './store.js';

/**
 * Fires schedule rules (rate / cron, UTC). Each fire is claimed with a compare-and-set of the
 * rule's last fire time, so a restart after downtime fires a schedule once (not once per missed
 * tick) and, in a cluster, only one node fires it. `timeScale` multiplies rate() periods (tests).
 */
export class EventScheduler {
  private rules: RuleRecord[] = [];
  private dirty = true;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ticking: Promise<void> | undefined;
  private readonly parsed = new Map<string, Schedule>();

  constructor(
    private readonly service: EventsService,
    private readonly clock: Clock,
    private readonly timeScale = 1,
    private readonly maxSleepMs = 1000,
  ) {
    service.onScheduleChange = () => {
      this.dirty = true;
      this.poke();
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  private poke(): void {
    if (this.running && !this.ticking) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ticking = this.tick()
        .catch(() => 1000)
        .then((next) => {
          this.ticking = undefined;
          this.schedule(next);
        });
    }, ms);
    this.timer.unref?.();
  }

  private scheduleOf(expr: string): Schedule {
    let s = this.parsed.get(expr);
    if (!s) {
      s = parseSchedule(expr);
      if (s.kind === 'rate') s = { ...s, periodMs: Math.max(1, Math.round(s.periodMs * this.timeScale)) };
      this.parsed.set(expr, s);
    }
    return s;
  }

  /** One pass: fires what is due; returns how long to sleep. */
  private async tick(): Promise<number> {
    if (this.dirty) {
      this.dirty = false;
      this.rules = await this.service.scheduledRules();
    }
    const now = this.clock.now();
    let nextAt = now + this.maxSleepMs;
    for (const rule of this.rules) {
      if (!ruleEnabled(rule.state) || !rule.schedule) continue;
      let s: Schedule;
      try {
        s = this.scheduleOf(rule.schedule);
      } catch {
        continue;
      }
      const due = scheduleDue(s, rule.lastFireAt ?? rule.anchorAt, rule.anchorAt, now);
      if (due.due && (await this.service.claimFire(rule, now))) {
        rule.lastFireAt = now;
        const targets = await this.service.targetsOf(rule);
        if (targets.length) await this.service.deliverRule(rule, targets, this.service.scheduledEvent(rule, now), now);
      } else if (due.due) {
        this.dirty = true; // another node (or an update) moved it: reload
      }
      if (due.next !== undefined) nextAt = Math.min(nextAt, due.next);
    }
    return Math.max(5, nextAt - this.clock.now());
  }
}
