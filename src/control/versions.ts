import { Errors } from '../core/errors.js';
import { refuseManagedFeatures, sameDeployment } from '../core/function-config.js';
import { LATEST, type VersionRecord } from '../core/model.js';
import { rules, violation } from '../core/validation.js';
import { checkRevision, ControlContext } from './context.js';
import { maxItems, type VersionView } from './functions.js';
import type { Input } from './types.js';

/** PublishVersion and ListVersionsByFunction. Published versions are immutable. */
export class Versions {
  constructor(private readonly ctx: ControlContext) {}

  publish(input: Input): Promise<VersionView> {
    const { name } = this.ctx.ref(input.FunctionName, undefined, 'latest-only');
    refuseManagedFeatures(input);
    if (input.Description !== undefined && input.Description !== null
      && (typeof input.Description !== 'string' || input.Description.length > 256)) {
      violation(input.Description, 'description', rules.maxLength(256));
    }
    return this.ctx.lock.run(name, () => this.publishLocked(name, input));
  }

  /**
   * Freezes $LATEST as the next version number. When neither code nor configuration changed
   * since the last published version, Lambda publishes nothing and returns that version.
   * Callers hold the function's lock.
   */
  async publishLocked(name: string, input: Input): Promise<VersionView> {
    const { ctx } = this;
    for (let attempt = 0; attempt < 5; attempt++) {
      const latest = await ctx.requireLatest(name);
      checkRevision(input.RevisionId, latest.revisionId);
      if (typeof input.CodeSha256 === 'string' && input.CodeSha256 !== latest.codeSha256) {
        throw Errors.invalidParameter(
          `CodeSHA256 (${input.CodeSha256}) is different from current CodeSHA256 in $LATEST (${latest.codeSha256}). Please try again with the CodeSHA256 in $LATEST.`,
        );
      }
      const fn = await ctx.requireFunction(name);
      if (fn.lastVersion > 0) {
        const previous = await ctx.store.getVersion(name, String(fn.lastVersion));
        // Nothing to publish when code and configuration are those of the last version. The
        // description counts only when $LATEST was updated since that version was published
        // (the version's own description may be PublishVersion's Description override).
        if (previous && sameDeployment(previous, latest)
          && (latest.lastModified <= previous.lastModified || previous.config.description === latest.config.description)) {
          return { version: previous, arnQualifier: previous.version };
        }
      }
      const version: VersionRecord = {
        ...latest,
        version: String(fn.lastVersion + 1),
        config: { ...latest.config, description: typeof input.Description === 'string' ? input.Description : latest.config.description },
        revisionId: ctx.newRevision(),
        lastModified: ctx.timestamp(),
      };
      if (await ctx.store.publishVersion(version, fn.lastVersion)) {
        await ctx.changed(name);
        return { version, arnQualifier: version.version };
      }
      // Another node published in between: look again.
    }
    throw Errors.resourceConflict(`The operation cannot be performed at this time. An update is in progress for resource: ${ctx.arn(name)}`);
  }

  /** ListVersionsByFunction: $LATEST first, then numeric ascending; Marker is the last version returned. */
  async list(input: Input): Promise<{ items: VersionView[]; nextMarker?: string }> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'ignore', 'NamespacedFunctionName');
    // "ListVersionsByFunction returns a maximum of 50 items in each response, even if you set the number higher."
    const limit = Math.min(50, maxItems(input.MaxItems));
    await ctx.requireFunction(name);
    const all = await ctx.store.listVersions(name);
    const marker = typeof input.Marker === 'string' && input.Marker !== '' ? input.Marker : undefined;
    let start = 0;
    if (marker !== undefined) {
      const i = all.findIndex((v) => v.version === marker);
      start = i >= 0 ? i + 1 : all.findIndex((v) => v.version !== LATEST && (marker === LATEST || Number(v.version) > Number(marker)));
      if (start < 0) start = all.length;
    }
    const page = all.slice(start, start + limit);
    const items = page.map((v) => ({ version: v, arnQualifier: v.version }));
    return start + limit < all.length ? { items, nextMarker: page[page.length - 1]!.version } : { items };
  }
}
