import { ALIAS_NAME, VERSION } from '../core/arn.js';
import { Errors } from '../core/errors.js';
import { LATEST, type AliasRecord } from '../core/model.js';
import { rules, Violations } from '../core/validation.js';
import { checkRevision, ControlContext, revisionMismatch } from './context.js';
import { maxItems } from './functions.js';
import type { Input } from './types.js';

const isObj = (v: unknown): v is Input => typeof v === 'object' && v !== null && !Array.isArray(v);

/** CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases (with weighted routing). */
export class Aliases {
  constructor(private readonly ctx: ControlContext) {}

  arn(a: AliasRecord): string {
    return this.ctx.arn(a.functionName, a.name);
  }

  private aliasNotFound(name: string, alias: string): Error {
    return Errors.resourceNotFound(`Cannot find alias arn: ${this.ctx.arn(name, alias)}`);
  }

  async create(input: Input): Promise<AliasRecord> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'ignore');
    const v = new Violations();
    checkAliasName(v, input.Name);
    checkVersion(v, input.FunctionVersion, true);
    checkDescription(v, input.Description);
    const weights = parseWeights(v, input.RoutingConfig);
    v.throwIfAny();
    const aliasName = input.Name as string;
    return ctx.lock.run(name, async () => {
      await ctx.requireFunction(name);
      const primary = input.FunctionVersion as string;
      await this.checkRouting(name, primary, weights ?? {});
      const record: AliasRecord = {
        functionName: name,
        name: aliasName,
        functionVersion: primary,
        description: typeof input.Description === 'string' ? input.Description : '',
        additionalVersionWeights: weights ?? {},
        revisionId: ctx.newRevision(),
      };
      if (!(await ctx.store.createAlias(record))) throw Errors.resourceConflict(`Alias already exists: ${this.arn(record)}`);
      await ctx.changed(name);
      return record;
    });
  }

  async get(input: Input): Promise<AliasRecord> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'ignore');
    const v = new Violations();
    checkAliasName(v, input.Name);
    v.throwIfAny();
    const alias = await ctx.store.getAlias(name, input.Name as string);
    if (!alias) {
      await ctx.requireFunction(name);
      throw this.aliasNotFound(name, input.Name as string);
    }
    return alias;
  }

  async update(input: Input): Promise<AliasRecord> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'ignore');
    const v = new Violations();
    checkAliasName(v, input.Name);
    checkVersion(v, input.FunctionVersion, false);
    checkDescription(v, input.Description);
    const weights = parseWeights(v, input.RoutingConfig);
    v.throwIfAny();
    const aliasName = input.Name as string;
    return ctx.lock.run(name, async () => {
      const current = await ctx.store.getAlias(name, aliasName);
      if (!current) {
        await ctx.requireFunction(name);
        throw this.aliasNotFound(name, aliasName);
      }
      checkRevision(input.RevisionId, current.revisionId);
      const next: AliasRecord = {
        ...current,
        functionVersion: typeof input.FunctionVersion === 'string' ? input.FunctionVersion : current.functionVersion,
        description: typeof input.Description === 'string' ? input.Description : current.description,
        additionalVersionWeights: weights ?? current.additionalVersionWeights,
        revisionId: ctx.newRevision(),
      };
      await this.checkRouting(name, next.functionVersion, next.additionalVersionWeights);
      if (!(await ctx.store.updateAlias(next, current.revisionId))) throw revisionMismatch();
      await ctx.changed(name);
      return next;
    });
  }

  async delete(input: Input): Promise<void> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'ignore');
    const v = new Violations();
    checkAliasName(v, input.Name);
    v.throwIfAny();
    await ctx.lock.run(name, async () => {
      if (!(await ctx.store.deleteAlias(name, input.Name as string))) {
        await ctx.requireFunction(name);
        throw this.aliasNotFound(name, input.Name as string);
      }
      await ctx.changed(name);
    });
  }

  /** ListAliases, optionally only those that route to FunctionVersion; Marker is the last alias name. */
  async list(input: Input): Promise<{ items: AliasRecord[]; nextMarker?: string }> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'ignore');
    const limit = maxItems(input.MaxItems);
    const v = new Violations();
    const filter = input.FunctionVersion === '' ? undefined : input.FunctionVersion;
    checkVersion(v, filter, false);
    v.throwIfAny();
    await ctx.requireFunction(name);
    let all = (await ctx.store.listAliases(name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (typeof filter === 'string') {
      all = all.filter((a) => a.functionVersion === filter || a.additionalVersionWeights[filter] !== undefined);
    }
    const marker = typeof input.Marker === 'string' && input.Marker !== '' ? input.Marker : undefined;
    const rest = marker === undefined ? all : all.filter((a) => a.name > marker);
    const items = rest.slice(0, limit);
    return rest.length > limit ? { items, nextMarker: items[items.length - 1]!.name } : { items };
  }

  /** The primary version and the weighted one must exist; routing needs two distinct published versions. */
  private async checkRouting(name: string, primary: string, weights: Record<string, number>): Promise<void> {
    const { ctx } = this;
    if (!(await ctx.store.getVersion(name, primary))) throw ctx.notFound(name, primary);
    const extra = Object.keys(weights);
    if (extra.length === 0) return;
    if (primary === LATEST) {
      throw Errors.invalidParameter('$LATEST is not supported for an alias pointing to more than 1 version');
    }
    const main = (await ctx.store.getVersion(name, primary))!;
    for (const version of extra) {
      if (version === primary) {
        throw Errors.invalidParameter(`Invalid function version ${version}. Function version ${version} is already included in routing configuration.`);
      }
      const other = await ctx.store.getVersion(name, version);
      if (!other) throw ctx.notFound(name, version);
      // "Both versions must have the same execution role" and "the same dead-letter queue
      // configuration, or no dead-letter queue configuration" (Lambda's aliases guide; the words are ours).
      if (other.config.role !== main.config.role) {
        throw Errors.invalidParameter(`Versions ${primary} and ${version} of the alias's routing configuration must have the same execution role.`);
      }
      if (other.config.deadLetterTargetArn !== main.config.deadLetterTargetArn) {
        throw Errors.invalidParameter(`Versions ${primary} and ${version} of the alias's routing configuration must have the same dead-letter queue configuration.`);
      }
    }
  }
}

function checkAliasName(v: Violations, name: unknown): void {
  if (name === undefined || name === null) v.add(null, 'name', rules.notNull);
  else if (typeof name !== 'string' || name.length < 1) v.add(name, 'name', rules.minLength(1));
  else if (name.length > 128) v.add(name, 'name', rules.maxLength(128));
  else if (!ALIAS_NAME.test(name)) v.add(name, 'name', rules.pattern('(?!^[0-9]+$)([a-zA-Z0-9-_]+)'));
}

function checkVersion(v: Violations, version: unknown, required: boolean): void {
  if (version === undefined || version === null) {
    if (required) v.add(null, 'functionVersion', rules.notNull);
  } else if (typeof version !== 'string' || !VERSION.test(version)) {
    v.add(version, 'functionVersion', rules.pattern('(\\$LATEST|[0-9]+)'));
  }
}

function checkDescription(v: Violations, d: unknown): void {
  if (d !== undefined && d !== null && (typeof d !== 'string' || d.length > 256)) v.add(d, 'description', rules.maxLength(256));
}

/** RoutingConfig.AdditionalVersionWeights: undefined when RoutingConfig is absent, {} clears. */
function parseWeights(v: Violations, routing: unknown): Record<string, number> | undefined {
  if (routing === undefined || routing === null) return undefined;
  if (!isObj(routing)) {
    v.addUnvalued('routingConfig', 'Member must be a structure');
    return undefined;
  }
  const w = routing.AdditionalVersionWeights;
  if (w === undefined || w === null) return {};
  if (!isObj(w)) {
    v.addUnvalued('routingConfig.additionalVersionWeights', 'Member must be a map');
    return undefined;
  }
  const out: Record<string, number> = {};
  for (const [version, weight] of Object.entries(w)) {
    if (!/^[0-9]+$/.test(version) || version.length > 1024) {
      v.add(version, 'routingConfig.additionalVersionWeights', `Map keys must satisfy constraint: [${rules.pattern('[0-9]+')}]`);
    } else if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || weight > 1) {
      v.addUnvalued('routingConfig.additionalVersionWeights', 'Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]');
    } else out[version] = weight;
  }
  if (Object.keys(out).length > 1) {
    throw Errors.invalidParameter('Number of items in AdditionalVersionWeights cannot be greater than 1');
  }
  return out;
}
