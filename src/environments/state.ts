/**
 * The lifecycle of one execution environment as a pure transition table.
 *
 *   starting ──boot──▶ booted (prewarmed: runtime up, no function assigned)
 *   starting/booted ──assign──▶ initializing ──ready──▶ idle ⇄ busy (invoke / complete)
 *   busy ──drain──▶ draining ──complete──▶ dead      (retired while in flight)
 *   any ──kill/exit──▶ dead
 *
 * Anything not in the table is denied: the environment refuses it.
 */
export type EnvState = 'starting' | 'booted' | 'initializing' | 'idle' | 'busy' | 'draining' | 'dead';
export type EnvEvent = 'boot' | 'assign' | 'ready' | 'invoke' | 'complete' | 'drain' | 'kill' | 'exit';

const TABLE: Record<EnvState, Partial<Record<EnvEvent, EnvState>>> = {
  starting: { boot: 'booted', assign: 'initializing', kill: 'dead', exit: 'dead' },
  booted: { assign: 'initializing', kill: 'dead', exit: 'dead' },
  // The first invocation of a cold start is handed over while initializing: it waits for `ready`.
  initializing: { ready: 'idle', kill: 'dead', exit: 'dead' },
  idle: { invoke: 'busy', drain: 'dead', kill: 'dead', exit: 'dead' },
  busy: { complete: 'idle', drain: 'draining', kill: 'dead', exit: 'dead' },
  draining: { complete: 'dead', kill: 'dead', exit: 'dead' },
  dead: {},
};

/** The next state, or undefined when the event is not allowed in this state. */
export function transition(state: EnvState, event: EnvEvent): EnvState | undefined {
  return TABLE[state][event];
}

export class InvalidTransition extends Error {
  constructor(readonly state: EnvState, readonly event: EnvEvent) {
    super(`environment in state ${state} cannot ${event}`);
  }
}

/** Applies an event or throws InvalidTransition. */
export function next(state: EnvState, event: EnvEvent): EnvState {
  const s = TABLE[state][event];
  if (s === undefined) throw new InvalidTransition(state, event);
  return s;
}

export const ENV_STATES = Object.keys(TABLE) as EnvState[];
export const ENV_EVENTS: EnvEvent[] = ['boot', 'assign', 'ready', 'invoke', 'complete', 'drain', 'kill', 'exit'];
