import { randomUUID } from 'node:crypto';
import { Errors } from '../core/errors.js';

/**
 * What the resource-based policies of layer versions (layers.ts) and of functions (policies.ts)
 * share: statements kept in order under ids of Lambda's pattern, a revision replaced at every
 * change, and Lambda's errors for an id used twice and an id that is not there. A layer version's
 * policy has a revision of its own (checkPolicyRevision); a function's is its owner's, the
 * RevisionId of $LATEST, the version or the alias (policies.ts).
 */
export const STATEMENT_ID = /^[a-zA-Z0-9-_]+$/;
export const ORGANIZATION = /^o-[a-z0-9]{10,32}$/;

export interface StatementList<S> {
  revisionId: string;
  statements: S[];
}

/** A layer version policy's RevisionId precondition: a given one must be the policy's ('' when there is none). */
export function checkPolicyRevision(given: unknown, current: { revisionId: string } | null | undefined): void {
  if (typeof given === 'string' && given !== (current?.revisionId ?? '')) {
    throw Errors.preconditionFailed('The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id');
  }
}

/** `current` and then the statement `build` makes, under revision `revisionId`; an id in use is refused before `build` runs. */
export function withStatement<S>(current: StatementList<S> | null | undefined, sid: string, sidOf: (s: S) => unknown, build: () => S, revisionId: string = randomUUID()): StatementList<S> {
  if (current?.statements.some((s) => sidOf(s) === sid)) {
    throw Errors.resourceConflict(`The statement id (${sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`);
  }
  return { revisionId, statements: [...(current?.statements ?? []), build()] };
}

/** `current` without statement `sid`, under revision `revisionId` (null: none is left); ResourceNotFound when it has no such statement. */
export function withoutStatement<S>(current: StatementList<S> | null | undefined, sid: unknown, sidOf: (s: S) => unknown, revisionId: string = randomUUID()): StatementList<S> | null {
  if (!current?.statements.some((s) => sidOf(s) === sid)) throw Errors.resourceNotFound(`Statement ${String(sid)} is not found in resource policy.`);
  const rest = current.statements.filter((s) => sidOf(s) !== sid);
  return rest.length ? { revisionId, statements: rest } : null;
}

/** The store's compare-and-swap lost to another writer. */
export function concurrentPolicyChange(): Error {
  return Errors.preconditionFailed('The policy was changed by another request meanwhile. Read it again and retry.');
}
