import { isNumericVersion } from '../core/arn.js';
import { Errors } from '../core/errors.js';
import { applyConfig, defaultConfig, refuseManagedFeatures, validateTags } from '../core/function-config.js';
import { checkCombinedSize } from '../core/layers.js';
import { LATEST, type FunctionRecord, type VersionRecord } from '../core/model.js';
import { maxItems, rules, violation, Violations } from '../core/validation.js';
import { checkRevision, ControlContext, revisionMismatch } from './context.js';
import type { Layers } from './layers.js';
import type { Versions } from './versions.js';
import type { Input } from './types.js';

/** A version as an operation returns it, and the qualifier its FunctionArn carries (if any). */
export interface VersionView {
  version: VersionRecord;
  arnQualifier?: string;
}

export interface FunctionView extends VersionView {
  fn: FunctionRecord;
}

/** ListFunctions' MasterRegion (the model's pattern). */
const MASTER_REGION_PATTERN = 'ALL|[a-z]{2}(-gov)?-[a-z]+-\\d{1}';
const MASTER_REGION = new RegExp(`^(?:${MASTER_REGION_PATTERN})$`);

const isObj = (v: unknown): v is Input => typeof v === 'object' && v !== null && !Array.isArray(v);

/** MaxItems of the Lambda list operations (1..max: 10000, the layer lists' 50; default 50). */
export { maxItems };

/**
 * CreateFunction, GetFunction(Configuration), ListFunctions, UpdateFunctionCode,
 * UpdateFunctionConfiguration, DeleteFunction.
 */
export class Functions {
  constructor(private readonly ctx: ControlContext, private readonly versions: Versions, private readonly layers: Layers) {}

  async create(input: Input): Promise<VersionView> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'refuse');
    const config = applyConfig(defaultConfig(), input, true);
    const tags = validateTags(input.Tags);
    const zip = codeOf(input.Code);
    config.layers = (await this.layers.resolveFunctionLayers(input.Layers)) ?? [];
    return ctx.lock.run(name, async () => {
      if (await ctx.store.getFunction(name)) throw Errors.resourceConflict(`Function already exist: ${name}`);
      const stored = await ctx.code.put(zip);
      let created = false;
      try {
        checkCombinedSize(stored.unpackedSize, config.layers);
        const fn: FunctionRecord = { name, createdAt: new Date(ctx.now()).toISOString(), tags, reservedConcurrency: null, recursiveLoop: 'Terminate', lastVersion: 0 };
        const latest: VersionRecord = {
          functionName: name,
          version: LATEST,
          config,
          ...codeFields(stored),
          state: 'Active',
          stateReason: null,
          stateReasonCode: null,
          ...written(ctx),
        };
        created = await ctx.store.createFunction(fn, latest);
        if (!created) throw Errors.resourceConflict(`Function already exist: ${name}`);
        await ctx.changed(name);
        if (input.Publish === true) return this.versions.publishLocked(name, {});
        return { version: latest };
      } finally {
        stored.done();
        if (!created) await ctx.code.collect([stored.codeKey]);
      }
    });
  }

  /** GetFunction / GetFunctionConfiguration: $LATEST, a version, or the version an alias points at. */
  async get(input: Input): Promise<FunctionView> {
    const { ctx } = this;
    const { name, qualifier } = ctx.ref(input.FunctionName, input.Qualifier, 'allow', 'NamespacedFunctionName');
    const fn = await ctx.store.getFunction(name);
    if (!fn) throw ctx.notFound(name, qualifier);
    let version: VersionRecord | undefined;
    if (qualifier === undefined || qualifier === LATEST || isNumericVersion(qualifier)) {
      version = await ctx.store.getVersion(name, qualifier ?? LATEST);
    } else {
      const alias = await ctx.store.getAlias(name, qualifier);
      if (alias) version = await ctx.store.getVersion(name, alias.functionVersion);
    }
    if (!version) throw ctx.notFound(name, qualifier);
    return qualifier === undefined ? { fn, version } : { fn, version, arnQualifier: qualifier };
  }

  /**
   * ListFunctions. Markers are plain: the last function name returned, or with
   * FunctionVersion=ALL `name:version` (names cannot contain ':').
   */
  async list(input: Input): Promise<{ items: VersionView[]; nextMarker?: string }> {
    const { ctx } = this;
    // "ListFunctions returns a maximum of 50 items in each response, even if you set the number higher."
    const limit = Math.min(50, maxItems(input.MaxItems));
    const all = input.FunctionVersion !== undefined && input.FunctionVersion !== '';
    const master = input.MasterRegion !== undefined && input.MasterRegion !== '';
    const v = new Violations();
    if (all && input.FunctionVersion !== 'ALL') v.add(input.FunctionVersion, 'functionVersion', rules.enumOf(['ALL']));
    if (master && (typeof input.MasterRegion !== 'string' || !MASTER_REGION.test(input.MasterRegion))) {
      v.add(input.MasterRegion, 'masterRegion', rules.pattern(MASTER_REGION_PATTERN));
    }
    v.throwIfAny();
    if (master) {
      // The model: "If specified, you must set FunctionVersion to ALL."
      if (!all) throw Errors.invalidParameter('If MasterRegion is specified, you must set FunctionVersion to ALL.');
      // MasterRegion lists the Lambda@Edge replicas of functions: Stratus replicates none.
      return { items: [] };
    }
    const marker = typeof input.Marker === 'string' && input.Marker !== '' ? input.Marker : undefined;
    if (!all) {
      const fns = await ctx.store.listFunctions(marker, limit + 1);
      const page = fns.slice(0, limit);
      const latest = await ctx.store.listLatest(page.map((f) => f.name));
      const byName = new Map(latest.map((v) => [v.functionName, v]));
      const items = page.flatMap((f) => (byName.has(f.name) ? [{ version: byName.get(f.name)! }] : []));
      return fns.length > limit ? { items, nextMarker: page[page.length - 1]!.name } : { items };
    }
    // Every version of every function, in (name, version) order.
    const [afterName, afterVersion] = marker ? splitMarker(marker) : [undefined, undefined];
    const items: VersionView[] = [];
    const take = (versions: VersionRecord[]): string | undefined => {
      for (const v of versions) {
        if (items.length === limit) {
          const last = items[items.length - 1]!.version;
          return `${last.functionName}:${last.version}`;
        }
        items.push({ version: v, arnQualifier: v.version });
      }
      return undefined;
    };
    if (afterName !== undefined && afterVersion !== undefined) {
      const rest = (await ctx.store.listVersions(afterName)).filter((v) => versionAfter(v.version, afterVersion));
      const next = take(rest);
      if (next) return { items, nextMarker: next };
    }
    let cursor = afterName;
    for (;;) {
      const fns = await ctx.store.listFunctions(cursor, 100);
      if (fns.length === 0) return { items };
      for (const f of fns) {
        const next = take(await ctx.store.listVersions(f.name));
        if (next) return { items, nextMarker: next };
        cursor = f.name;
      }
    }
  }

  async updateCode(input: Input): Promise<VersionView> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'latest-only');
    if (input.S3Bucket !== undefined || input.S3Key !== undefined || input.ImageUri !== undefined) codeOf(input);
    refuseManagedFeatures(input);
    const zip = input.ZipFile;
    if (zip === undefined || zip === null) {
      throw Errors.invalidParameter('Please provide a source for function code: ZipFile is required (S3 and image sources are not supported by Stratus).');
    }
    return ctx.lock.run(name, async () => {
      const latest = await ctx.requireLatest(name);
      checkRevision(input.RevisionId, latest.revisionId);
      const config = input.Architectures !== undefined ? applyConfig(latest.config, { Architectures: input.Architectures }, false) : latest.config;
      if (input.DryRun === true) {
        const checked = await ctx.code.check(zip);
        checkCombinedSize(checked.unpackedSize, config.layers);
        return { version: { ...latest, config, codeSha256: checked.codeSha256, codeKey: checked.codeKey, codeSize: checked.codeSize } };
      }
      const stored = await ctx.code.put(zip);
      let saved = false;
      try {
        checkCombinedSize(stored.unpackedSize, config.layers);
        const next: VersionRecord = { ...latest, config, ...codeFields(stored), ...written(ctx) };
        saved = await ctx.store.putVersion(next, latest.revisionId);
        if (!saved) throw concurrentUpdate(ctx, name, input);
        await ctx.changed(name);
        if (input.Publish === true) return this.versions.publishLocked(name, {});
        return { version: next };
      } finally {
        stored.done();
        await ctx.code.collect(saved ? [latest.codeKey] : [stored.codeKey]);
      }
    });
  }

  async updateConfig(input: Input): Promise<VersionView> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'latest-only');
    return ctx.lock.run(name, async () => {
      const latest = await ctx.requireLatest(name);
      checkRevision(input.RevisionId, latest.revisionId);
      const config = applyConfig(latest.config, input, false);
      const layers = await this.layers.resolveFunctionLayers(input.Layers);
      if (layers) {
        checkCombinedSize(layers.length ? await ctx.code.unpackedSize(latest.codeKey) : 0, layers);
        config.layers = layers;
      }
      const next: VersionRecord = { ...latest, config, ...written(ctx) };
      if (!(await ctx.store.putVersion(next, latest.revisionId))) throw concurrentUpdate(ctx, name, input);
      await ctx.changed(name);
      // Layers it no longer uses may have been its last user (their versions deleted).
      if (layers) await ctx.code.collect(latest.config.layers.map((l) => l.codeKey));
      return { version: next };
    });
  }

  /** DeleteFunction: the whole function, or one published version (Qualifier). */
  async delete(input: Input): Promise<void> {
    const { ctx } = this;
    const { name, qualifier } = ctx.ref(input.FunctionName, input.Qualifier, 'allow', 'NamespacedFunctionName');
    await ctx.lock.run(name, async () => {
      if (qualifier === undefined) {
        const versions = await ctx.store.listVersions(name);
        if (!(await ctx.store.deleteFunction(name))) throw ctx.notFound(name);
        await ctx.deleted(name);
        await ctx.code.collect(versions.flatMap(archives));
        return;
      }
      if (qualifier === LATEST) throw Errors.invalidParameter('$LATEST version cannot be deleted without deleting the function.');
      if (!isNumericVersion(qualifier)) {
        throw Errors.invalidParameter('Deletion of aliases is not supported.');
      }
      const version = await ctx.store.getVersion(name, qualifier);
      if (!version) {
        // A version that is not there is deleted already (Lambda answers 204); a missing function is named unqualified.
        await ctx.requireFunction(name);
        return;
      }
      const aliases = (await ctx.store.listAliases(name))
        .filter((a) => a.functionVersion === qualifier || a.additionalVersionWeights[qualifier] !== undefined)
        .map((a) => a.name);
      if (aliases.length) {
        throw Errors.resourceConflict(`Unable to delete version because the following aliases reference it: [${aliases.join(', ')}]`);
      }
      if (!(await ctx.store.deleteVersion(name, qualifier))) return; // deleted meanwhile by another node
      await ctx.changed(name);
      await ctx.code.collect(archives(version));
    });
  }
}

/** The archives a version holds: its code's and its layers'. */
function archives(v: VersionRecord): string[] {
  return [v.codeKey, ...v.config.layers.map((l) => l.codeKey)];
}

/** The code fields of a version, from a stored zip. */
function codeFields(c: { codeSha256: string; codeKey: string; codeSize: number }): Pick<VersionRecord, 'codeSha256' | 'codeKey' | 'codeSize'> {
  return { codeSha256: c.codeSha256, codeKey: c.codeKey, codeSize: c.codeSize };
}

/** What every successful write of $LATEST sets: a new revision, the time, a successful update. */
function written(ctx: ControlContext): Pick<VersionRecord, 'revisionId' | 'lastModified' | 'lastUpdateStatus' | 'lastUpdateStatusReason' | 'lastUpdateStatusReasonCode'> {
  return {
    revisionId: ctx.newRevision(),
    lastModified: ctx.timestamp(),
    lastUpdateStatus: 'Successful',
    lastUpdateStatusReason: null,
    lastUpdateStatusReasonCode: null,
  };
}

/** The ZipFile of a CreateFunction Code structure; other code sources are refused honestly. */
function codeOf(code: unknown): unknown {
  if (!isObj(code)) violation(null, 'code', rules.notNull);
  if (code.ImageUri !== undefined) throw Errors.invalidParameter('Stratus runs .zip deployment packages only: ImageUri is not supported.');
  if (code.S3Bucket !== undefined || code.S3Key !== undefined || code.S3ObjectVersion !== undefined) {
    throw Errors.invalidParameter('Code from S3 (S3Bucket/S3Key) is not supported by Stratus: upload the .zip as ZipFile.');
  }
  if (code.ZipFile === undefined || code.ZipFile === null) throw Errors.invalidParameter('Please provide a source for function code.');
  return code.ZipFile;
}

/** Another node changed $LATEST between our read and our write. */
function concurrentUpdate(ctx: ControlContext, name: string, input: Input): Error {
  if (typeof input.RevisionId === 'string') return revisionMismatch();
  return Errors.resourceConflict(`The operation cannot be performed at this time. An update is in progress for resource: ${ctx.arn(name)}`);
}

function splitMarker(marker: string): [string, string | undefined] {
  const i = marker.indexOf(':');
  return i < 0 ? [marker, undefined] : [marker.slice(0, i), marker.slice(i + 1)];
}

/** Version order: $LATEST first, then numeric ascending. */
function versionAfter(v: string, after: string): boolean {
  if (after === LATEST) return v !== LATEST;
  if (v === LATEST) return false;
  return Number(v) > Number(after);
}
