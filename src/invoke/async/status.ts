import type { FastifyInstance } from 'fastify';
import { sendRestJsonError } from '../../api/errors.js';
import { Errors } from '../../core/errors.js';
import type { EventEntryInfo, EventEntryState, EventQueue } from '../../ports/index.js';
import { ASYNC_QUEUE, type AsyncEventMeta } from './engine.js';

const STATES = new Set<EventEntryState>(['queued', 'running', 'retrying', 'succeeded', 'failed']);

/** One async event as `stratus events FUNCTION` shows it. */
export interface AsyncEventView {
  requestId: string;
  functionName: string;
  qualifier: string;
  state: EventEntryState;
  attempts: number;
  enqueuedAt: string;
  updatedAt: string;
  nextAttemptAt?: string;
  lastError?: string;
  condition?: string;
  destinationError?: string;
}

export function toView(e: EventEntryInfo): AsyncEventView {
  const m = e.meta as unknown as AsyncEventMeta;
  const v: AsyncEventView = {
    requestId: e.id,
    functionName: e.group,
    qualifier: m.cq,
    state: e.state,
    attempts: m.attempts ?? 0,
    enqueuedAt: new Date(e.enqueuedAt).toISOString(),
    updatedAt: new Date(e.updatedAt).toISOString(),
  };
  if (e.state === 'retrying' && e.visibleAt !== null) v.nextAttemptAt = new Date(e.visibleAt).toISOString();
  if (m.lastError) v.lastError = m.lastError;
  if (m.condition) v.condition = m.condition;
  if (m.destinationError) v.destinationError = m.destinationError;
  return v;
}

/**
 * Stratus-only routes (Lambda has no equivalent) for following async events:
 *   GET /_stratus/async/events?function=NAME&state=failed,retrying&limit=50
 *       -> { events: AsyncEventView[], counts: { queued, running, retrying, succeeded, failed } }
 *   GET /_stratus/async/events/{requestId} -> AsyncEventView
 */
export function registerAsyncStatusRoutes(http: FastifyInstance, queue: EventQueue): void {
  http.get('/_stratus/async/events', async (req, reply) => {
    try {
      const q = req.query as { function?: string; state?: string; limit?: string };
      const limit = q.limit === undefined ? 50 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw Errors.invalidParameter('limit must be between 1 and 1000');
      const states = q.state ? (q.state.split(',') as EventEntryState[]) : undefined;
      if (states && !states.every((s) => STATES.has(s))) throw Errors.invalidParameter(`state must be among ${[...STATES].join(', ')}`);
      const opts: { group?: string; states?: EventEntryState[]; limit: number } = { limit };
      if (q.function) opts.group = q.function;
      if (states) opts.states = states;
      const [events, counts] = await Promise.all([queue.list(ASYNC_QUEUE, opts), queue.counts(ASYNC_QUEUE, q.function)]);
      return reply.header('content-type', 'application/json').send(JSON.stringify({ events: events.map(toView), counts }));
    } catch (err) {
      return sendRestJsonError(reply, err);
    }
  });
  http.get('/_stratus/async/events/:requestId', async (req, reply) => {
    try {
      const { requestId } = req.params as { requestId: string };
      const e = await queue.get(requestId);
      if (!e || e.queue !== ASYNC_QUEUE) throw Errors.resourceNotFound(`No async event ${requestId}`);
      return reply.header('content-type', 'application/json').send(JSON.stringify(toView(e)));
    } catch (err) {
      return sendRestJsonError(reply, err);
    }
  });
}
