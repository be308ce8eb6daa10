import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidTransition, next, transition, type EnvEvent, type EnvState } from '../../src/environments/state.js';

const allowed: [EnvState, EnvEvent, EnvState][] = [
  ['starting', 'boot', 'booted'], ['starting', 'assign', 'initializing'], ['booted', 'assign', 'initializing'],
  ['initializing', 'ready', 'idle'], ['idle', 'invoke', 'busy'], ['busy', 'complete', 'idle'], ['busy', 'drain', 'draining'],
  ['draining', 'complete', 'dead'], ['idle', 'drain', 'dead'], ['initializing', 'exit', 'dead'], ['busy', 'kill', 'dead'],
  ['booted', 'exit', 'dead'],
];
const denied: [EnvState, EnvEvent][] = [
  ['idle', 'complete'], ['busy', 'invoke'], ['initializing', 'invoke'], ['booted', 'invoke'], ['dead', 'invoke'], ['dead', 'kill'],
  ['idle', 'ready'], ['draining', 'invoke'], ['idle', 'assign'], ['starting', 'ready'],
];

test('allowed transitions', () => {
  for (const [s, e, to] of allowed) assert.equal(transition(s, e), to, `${s} --${e}-->`);
});

test('denied transitions throw InvalidTransition', () => {
  for (const [s, e] of denied) {
    assert.equal(transition(s, e), undefined, `${s} --${e}--> must be denied`);
    assert.throws(() => next(s, e), InvalidTransition);
  }
});
