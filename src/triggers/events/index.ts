import { eventsJsonService } from '../../api/events/index.js';
import type { StratusModule } from '../../app/module.js';
import { EventScheduler } from './scheduler.js';
import { EventsService } from './service.js';
import { EventsStore } from './store.js';

export { EventsService, DEFAULT_BUS, eventsChannel, type PutEventsEntry, type PutEventsResultEntry } from './service.js';
export { EventsStore, type BusRecord, type RuleRecord, type TargetRecord, type TargetSpec } from './store.js';
export { EventScheduler } from './scheduler.js';
export { targetInput, transform, select, parsePath, validateTargetInput, type InputTransformer } from './transform.js';

export interface EventsModuleOptions {
  /**
   * Multiplies rate() schedule periods (tests: 0.001 turns rate(1 minute) into 60 ms). Defaults to
   * config.scheduleTimeScale (STRATUS_SCHEDULE_TIME_SCALE), then 1.
   * cron() schedules always follow the real UTC clock.
   */
  scheduleTimeScale?: number;
}

/**
 * EventBridge-compatible events: the AWSEvents JSON API (buses, rules, targets, PutEvents,
 * TestEventPattern), the 'events' delivery target (put an event onto a bus by ARN: Lambda
 * destinations, bus-to-bus), and the scheduler for rate()/cron() rules.
 */
export function eventsModule(opts: EventsModuleOptions = {}): StratusModule {
  let service: EventsService | undefined;
  let scheduler: EventScheduler | undefined;
  return {
    name: 'events',
    async init(ctx) {
      const store = new EventsStore(ctx.sql);
      service = new EventsService({ store, targets: ctx.targets, changes: ctx.changes, locale: ctx.locale, clock: ctx.clock });
      await service.init();
      const scale = opts.scheduleTimeScale ?? ctx.config.scheduleTimeScale ?? 1;
      scheduler = new EventScheduler(service, ctx.clock, scale);
      ctx.jsonTargets.add(eventsJsonService(service));
      const svc = service;
      ctx.targets.register('events', (arn, message) => svc.deliverToBus(arn, message));
    },
    start() {
      scheduler?.start();
    },
    async stop() {
      await scheduler?.stop();
      service?.close();
    },
  };
}
