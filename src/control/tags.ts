import { Errors } from '../core/errors.js';
import { validateTags } from '../core/function-config.js';
import { withoutKeys } from '../core/tags.js';
import { rules, Violations } from '../core/validation.js';
import type { TagKeeper, TagKeepers } from '../ports/tags.js';
import { ControlContext } from './context.js';
import type { Input } from './types.js';

/** The Resource member's shape in Lambda's model (TaggableResource): its pattern and length. */
const TAGGABLE_PATTERN = 'arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?'
  + '|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)';
const TAGGABLE = new RegExp(`^(?:${TAGGABLE_PATTERN})$`);
const TAGGABLE_MAX = 256;
const FUNCTION_ARN = /^arn:[^:]+:lambda:([^:]+):(\d{12}):function:([^:]+)(?::([^:]+))?$/;
/** Any other taggable ARN: its region, account and resource type. */
const RESOURCE_ARN = /^arn:[^:]+:lambda:([^:]+):(\d{12}):([a-z-]+):/;

/**
 * TagResource, UntagResource, ListTags: on functions (tags belong to the function, not its
 * versions), and on the resources whose modules keep their tags (TagKeepers: event source
 * mappings). Code signing configs and capacity providers do not exist in Stratus.
 */
export class Tags implements TagKeepers {
  private readonly keepers = new Map<string, TagKeeper>();

  constructor(private readonly ctx: ControlContext) {}

  register(resourceType: string, keeper: TagKeeper): void {
    this.keepers.set(resourceType, keeper);
  }

  /** The keeper of a (well-formed) Resource ARN that names no function; null for a function. */
  private keeperOf(resource: string): TagKeeper | null {
    if (FUNCTION_ARN.test(resource)) return null;
    const { locale } = this.ctx.deps;
    const m = RESOURCE_ARN.exec(resource);
    const keeper = m ? this.keepers.get(m[3]!) : undefined;
    if (!m || !keeper || m[1] !== locale.region || m[2] !== locale.accountId) throw Errors.resourceNotFound('The resource you requested does not exist.');
    return keeper;
  }

  /** Lambda's model constraints on Resource, with those of the operation's other members (`more`). */
  private checkResource(resource: unknown, more?: (v: Violations) => void): void {
    const v = new Violations();
    if (typeof resource !== 'string') v.add(null, 'resource', rules.notNull);
    else if (resource.length > TAGGABLE_MAX) v.add(resource, 'resource', rules.maxLength(TAGGABLE_MAX));
    else if (!TAGGABLE.test(resource)) v.add(resource, 'resource', rules.pattern(TAGGABLE_PATTERN));
    more?.(v);
    v.throwIfAny();
  }

  /** The function a (well-formed) Resource ARN names. */
  private nameOf(resource: string): string {
    const { locale } = this.ctx.deps;
    const m = FUNCTION_ARN.exec(resource)!;
    if (m[4] !== undefined) throw Errors.invalidParameter('Tags on function aliases and versions are not supported. Please specify a function ARN.');
    if (m[2] !== locale.accountId || m[1] !== locale.region) throw Errors.resourceNotFound(`Function not found: ${resource}`);
    return m[3]!;
  }

  async tag(input: Input): Promise<void> {
    const { ctx } = this;
    this.checkResource(input.Resource, (v) => {
      if (input.Tags === undefined || input.Tags === null) v.add(null, 'tags', rules.notNull);
    });
    // Lambda's answer to an empty Tags map (AWS-recorded).
    if (typeof input.Tags === 'object' && Object.keys(input.Tags as object).length === 0) {
      throw Errors.invalidParameter('An error occurred and the request cannot be processed.');
    }
    const keeper = this.keeperOf(input.Resource as string);
    if (keeper) return keeper.update(input.Resource as string, (tags) => validateTags(input.Tags, tags));
    const name = this.nameOf(input.Resource as string);
    await ctx.lock.run(name, async () => {
      const fn = await ctx.requireFunction(name);
      await ctx.store.updateFunction({ ...fn, tags: validateTags(input.Tags, fn.tags) });
      await ctx.changed(name);
    });
  }

  async untag(input: Input): Promise<void> {
    const { ctx } = this;
    const keys = Array.isArray(input.TagKeys) ? input.TagKeys.map(String) : typeof input.TagKeys === 'string' ? [input.TagKeys] : [];
    this.checkResource(input.Resource, (v) => {
      if (keys.length === 0) v.add(null, 'tagKeys', rules.notNull);
    });
    const keeper = this.keeperOf(input.Resource as string);
    if (keeper) {
      return keeper.update(input.Resource as string, (old) => withoutKeys(old, keys));
    }
    const name = this.nameOf(input.Resource as string);
    await ctx.lock.run(name, async () => {
      const fn = await ctx.requireFunction(name);
      await ctx.store.updateFunction({ ...fn, tags: withoutKeys(fn.tags, keys) });
      await ctx.changed(name);
    });
  }

  async list(input: Input): Promise<Record<string, string>> {
    this.checkResource(input.Resource);
    const keeper = this.keeperOf(input.Resource as string);
    if (keeper) return keeper.get(input.Resource as string);
    const name = this.nameOf(input.Resource as string);
    return (await this.ctx.requireFunction(name)).tags;
  }
}
