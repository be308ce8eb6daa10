import { lambdaTimestamp } from '../core/arn.js';
import { Errors } from '../core/errors.js';
import { CURRENT_RUNTIMES, LAMBDA_RUNTIMES } from '../core/function-config.js';
import { functionLayerArns, layerArn, parseLayerName, parseLayerVersionArn, parseLayerVersionNumber } from '../core/layers.js';
import type { LayerPolicy, LayerRef, LayerStatement, LayerVersionRecord } from '../core/model.js';
import { rules, Violations } from '../core/validation.js';
import type { ControlContext } from './context.js';
import { maxItems } from './functions.js';
import { checkPolicyRevision, concurrentPolicyChange, ORGANIZATION, STATEMENT_ID, withoutStatement, withStatement } from './resource-policy.js';
import type { Input } from './types.js';

const ARCHITECTURES = ['x86_64', 'arm64'];
const PRINCIPAL = /^(\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)$/;
const NOT_FOUND = 'The resource you requested does not exist.';
/** MaxItems of ListLayers / ListLayerVersions (1..50, default 50). */
const MAX_ITEMS = 50;

const isObj = (v: unknown): v is Input => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions,
 * DeleteLayerVersion, the layer version permissions, and what a function's Layers resolve to.
 * A layer's archive is stored as a function's code is (content-addressed, validated whole first).
 */
export class Layers {
  constructor(private readonly ctx: ControlContext) {}

  private get store() {
    return this.ctx.deps.layers;
  }

  arn(name: string, version?: number): string {
    return layerArn(this.ctx.deps.locale, name, version);
  }

  async publish(input: Input): Promise<LayerVersionRecord> {
    const { ctx } = this;
    const name = parseLayerName(input.LayerName, ctx.deps.locale);
    const v = new Violations();
    const description = optionalString(input.Description, 'description', 256, v) ?? '';
    const licenseInfo = optionalString(input.LicenseInfo, 'licenseInfo', 512, v) ?? null;
    const compatibleRuntimes = enumList(input.CompatibleRuntimes, 'compatibleRuntimes', 15, LAMBDA_RUNTIMES, rules.enumOf(CURRENT_RUNTIMES), v);
    const compatibleArchitectures = enumList(input.CompatibleArchitectures, 'compatibleArchitectures', 2, new Set(ARCHITECTURES),
      `Member must satisfy constraint: [${rules.enumOf(ARCHITECTURES)}]`, v);
    if (!isObj(input.Content)) v.add(null, 'content', rules.notNull);
    v.throwIfAny();
    const content = input.Content as Input;
    if (content.S3Bucket !== undefined || content.S3Key !== undefined || content.S3ObjectVersion !== undefined) {
      throw Errors.invalidParameter('Layer content from S3 (S3Bucket/S3Key) is not supported by Stratus: upload the .zip as ZipFile.');
    }
    if (content.ZipFile === undefined || content.ZipFile === null) throw Errors.invalidParameter('Please provide a source for layer content: ZipFile must carry the .zip file.');
    const stored = await ctx.code.put(content.ZipFile, true);
    let published = false;
    try {
      const rec = await this.store.publish({
        layerName: name, description, createdDate: lambdaTimestamp(ctx.now()), compatibleRuntimes, compatibleArchitectures, licenseInfo,
        codeSha256: stored.codeSha256, codeKey: stored.codeKey, codeSize: stored.codeSize, unpackedSize: stored.unpackedSize,
      });
      published = true;
      return rec;
    } finally {
      stored.done();
      if (!published) await ctx.code.collect([stored.codeKey]);
    }
  }

  async get(input: Input): Promise<LayerVersionRecord> {
    return this.find(input, () => NOT_FOUND);
  }

  /** The version LayerName and VersionNumber name; ResourceNotFound in the words `missing` gives. */
  private async find(input: Input, missing: (name: string, version: number) => string): Promise<LayerVersionRecord> {
    const name = parseLayerName(input.LayerName, this.ctx.deps.locale);
    const version = parseLayerVersionNumber(input.VersionNumber);
    const rec = await this.store.getVersion(name, version);
    if (!rec) throw Errors.resourceNotFound(missing(name, version));
    return rec;
  }

  async getByArn(input: Input): Promise<LayerVersionRecord> {
    const { locale } = this.ctx.deps;
    const ref = parseLayerVersionArn(input.Arn, 'arn');
    if (ref.region !== locale.region || ref.accountId !== locale.accountId) throw Errors.resourceNotFound(NOT_FOUND);
    const rec = await this.store.getVersion(ref.name, ref.version);
    if (!rec) throw Errors.resourceNotFound(NOT_FOUND);
    return rec;
  }

  /** ListLayerVersions: newest first; the marker is the last version number returned. */
  async listVersions(input: Input): Promise<{ items: LayerVersionRecord[]; nextMarker?: string }> {
    const name = parseLayerName(input.LayerName, this.ctx.deps.locale);
    const { limit, runtime, architecture } = listFilters(input);
    const marker = typeof input.Marker === 'string' && input.Marker !== '' ? Number(input.Marker) : undefined;
    if (marker !== undefined && !Number.isSafeInteger(marker)) throw Errors.invalidParameter(`Invalid marker: ${input.Marker as string}`);
    const all = (await this.store.listVersions(name, marker)).filter((r) => matches(r, runtime, architecture));
    const items = all.slice(0, limit);
    return all.length > limit ? { items, nextMarker: String(items[items.length - 1]!.version) } : { items };
  }

  /** ListLayers: each layer with its newest version that matches the filters; the marker is the last name. */
  async list(input: Input): Promise<{ items: Array<{ name: string; latest: LayerVersionRecord }>; nextMarker?: string }> {
    const { limit, runtime, architecture } = listFilters(input);
    let cursor = typeof input.Marker === 'string' && input.Marker !== '' ? input.Marker : undefined;
    const items: Array<{ name: string; latest: LayerVersionRecord }> = [];
    for (;;) {
      const names = await this.store.listNames(cursor, 100);
      if (names.length === 0) return { items };
      for (const name of names) {
        const latest = (await this.store.listVersions(name)).find((r) => matches(r, runtime, architecture));
        if (!latest) continue;
        if (items.length === limit) return { items, nextMarker: items[items.length - 1]!.name };
        items.push({ name, latest });
      }
      cursor = names[names.length - 1];
    }
  }

  /** DeleteLayerVersion: idempotent, as Lambda's (a missing version is not an error). */
  async delete(input: Input): Promise<void> {
    const name = parseLayerName(input.LayerName, this.ctx.deps.locale);
    const version = parseLayerVersionNumber(input.VersionNumber);
    const gone = await this.store.deleteVersion(name, version);
    // Functions that use it keep its archive (the code store's sweep asks them).
    if (gone) await this.ctx.code.collect([gone.codeKey]);
  }

  /** The version a permission operation is about; ResourceNotFound names it as Lambda does. */
  private forPolicy(input: Input): Promise<LayerVersionRecord> {
    return this.find(input, (name, version) => `Layer version ${this.arn(name, version)} does not exist.`);
  }

  async addPermission(input: Input): Promise<{ statement: string; revisionId: string }> {
    const rec = await this.forPolicy(input);
    const v = new Violations();
    if (typeof input.StatementId !== 'string') v.add(null, 'statementId', rules.notNull);
    else if (input.StatementId.length > 100) v.add(input.StatementId, 'statementId', rules.maxLength(100));
    else if (!STATEMENT_ID.test(input.StatementId)) v.add(input.StatementId, 'statementId', rules.pattern('([a-zA-Z0-9-_]+)'));
    if (typeof input.Action !== 'string') v.add(null, 'action', rules.notNull);
    else if (input.Action !== 'lambda:GetLayerVersion') v.add(input.Action, 'action', rules.pattern('lambda:GetLayerVersion'));
    if (typeof input.Principal !== 'string') v.add(null, 'principal', rules.notNull);
    else if (!PRINCIPAL.test(input.Principal)) v.add(input.Principal, 'principal', rules.pattern('\\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root'));
    const org = input.OrganizationId;
    if (org !== undefined && org !== null && (typeof org !== 'string' || !ORGANIZATION.test(org))) v.add(org, 'organizationId', rules.pattern('o-[a-z0-9]{10,32}'));
    v.throwIfAny();
    const sid = input.StatementId as string;
    const current = rec.policy;
    checkPolicyRevision(input.RevisionId, current);
    let statement: LayerStatement | undefined;
    const policy: LayerPolicy = withStatement(current, sid, (s) => s.sid, () => {
      if (typeof org === 'string' && input.Principal !== '*') {
        throw Errors.invalidParameter('OrganizationId can only be specified when Principal is "*".');
      }
      statement = { sid, action: input.Action as string, principal: input.Principal as string, ...(typeof org === 'string' ? { organizationId: org } : {}) };
      return statement;
    });
    if (!(await this.store.putPolicy(rec.layerName, rec.version, policy, current?.revisionId ?? null))) throw concurrentPolicyChange();
    return { statement: JSON.stringify(this.statementDoc(rec, statement!)), revisionId: policy.revisionId };
  }

  async removePermission(input: Input): Promise<void> {
    const rec = await this.forPolicy(input);
    const current = rec.policy;
    checkPolicyRevision(input.RevisionId, current);
    const policy = withoutStatement(current, input.StatementId, (s) => s.sid);
    if (!(await this.store.putPolicy(rec.layerName, rec.version, policy, current!.revisionId))) throw concurrentPolicyChange();
  }

  async getPolicy(input: Input): Promise<{ policy: string; revisionId: string }> {
    const rec = await this.forPolicy(input);
    if (!rec.policy) throw Errors.resourceNotFound('No policy is associated with the given resource.');
    const doc = { Version: '2012-10-17', Id: 'default', Statement: rec.policy.statements.map((s) => this.statementDoc(rec, s)) };
    return { policy: JSON.stringify(doc), revisionId: rec.policy.revisionId };
  }

  private statementDoc(rec: LayerVersionRecord, s: LayerStatement): Record<string, unknown> {
    const principal = s.principal === '*' ? '*' : { AWS: /^\d{12}$/.test(s.principal) ? `arn:aws:iam::${s.principal}:root` : s.principal };
    return {
      Sid: s.sid, Effect: 'Allow', Principal: principal, Action: s.action, Resource: this.arn(rec.layerName, rec.version),
      ...(s.organizationId ? { Condition: { StringEquals: { 'aws:PrincipalOrgID': s.organizationId } } } : {}),
    };
  }

  /**
   * A function's Layers (CreateFunction, UpdateFunctionConfiguration): each version looked up and
   * captured with its archive, in the order given. Undefined when the input names none.
   */
  async resolveFunctionLayers(raw: unknown): Promise<LayerRef[] | undefined> {
    const arns = functionLayerArns(raw);
    if (arns === undefined) return undefined;
    const { locale } = this.ctx.deps;
    const refs: LayerRef[] = [];
    for (const arn of arns) {
      const ref = parseLayerVersionArn(arn, 'layers');
      if (ref.region !== locale.region) {
        throw Errors.invalidParameter(`Layers are not in the same region as the function. Layers are expected to be in region ${locale.region}.`);
      }
      // CompatibleRuntimes and CompatibleArchitectures only filter the list operations: Lambda
      // attaches any layer to any function.
      const rec = ref.accountId === locale.accountId ? await this.store.getVersion(ref.name, ref.version) : undefined;
      if (!rec) throw Errors.invalidParameter(`Layer version ${arn} does not exist.`);
      refs.push({ arn, codeKey: rec.codeKey, codeSize: rec.codeSize, unpackedSize: rec.unpackedSize });
    }
    return refs;
  }
}

function optionalString(raw: unknown, field: string, max: number, v: Violations): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string' || raw.length > max) {
    v.add(raw, field, rules.maxLength(max));
    return undefined;
  }
  return raw;
}

/** A list of enum values; Lambda echoes the whole list when one is not in the set. */
function enumList(raw: unknown, field: string, max: number, allowed: ReadonlySet<string>, rule: string, v: Violations): string[] | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw)) {
    v.add(raw, field, 'Member must be a list');
    return null;
  }
  const shown = `[${raw.map(String).join(', ')}]`;
  if (raw.length > max) v.add(shown, field, rules.maxLength(max));
  if (raw.some((x) => typeof x !== 'string' || !allowed.has(x))) v.add(shown, field, rule);
  return raw as string[];
}

function listFilters(input: Input): { limit: number; runtime?: string; architecture?: string } {
  const limit = maxItems(input.MaxItems, MAX_ITEMS, MAX_ITEMS);
  const v = new Violations();
  const runtime = typeof input.CompatibleRuntime === 'string' && input.CompatibleRuntime !== '' ? input.CompatibleRuntime : undefined;
  if (runtime !== undefined && !LAMBDA_RUNTIMES.has(runtime)) v.add(runtime, 'compatibleRuntime', rules.enumOf(CURRENT_RUNTIMES));
  const architecture = typeof input.CompatibleArchitecture === 'string' && input.CompatibleArchitecture !== '' ? input.CompatibleArchitecture : undefined;
  if (architecture !== undefined && !ARCHITECTURES.includes(architecture)) v.add(architecture, 'compatibleArchitecture', rules.enumOf(ARCHITECTURES));
  v.throwIfAny();
  return { limit, runtime, architecture };
}

function matches(r: LayerVersionRecord, runtime?: string, architecture?: string): boolean {
  return (runtime === undefined || (r.compatibleRuntimes ?? []).includes(runtime))
    && (architecture === undefined || (r.compatibleArchitectures ?? []).includes(architecture));
}
