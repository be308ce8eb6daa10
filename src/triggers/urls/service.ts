import { maxItems as pageSize } from '../../core/validation.js';
import { randomBytes } from 'node:crypto';
import { functionArn, isNumericVersion, lambdaTimestamp, parseFunctionRef } from '../../core/arn.js';
import { Errors } from '../../core/errors.js';
import type { CorsConfig } from '../../core/gateway-cors.js';
import { LATEST, type Locale } from '../../core/model.js';
import type { ChangeFeed, Clock, FunctionStore } from '../../ports/index.js';
import type { UrlConfig, UrlStore } from './store.js';

export const URL_CHANGE_TYPE = 'url';
type Input = Record<string, unknown>;

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
function newUrlId(): string {
  const b = randomBytes(32);
  let s = '';
  for (let i = 0; i < 32; i++) s += ALNUM[b[i]! % ALNUM.length];
  return s;
}

function enumError(value: unknown, field: string, values: string[]) {
  return Errors.validation(
    `1 validation error detected: Value '${String(value)}' at '${field}' failed to satisfy constraint: Member must satisfy enum value set: [${values.join(', ')}]`,
  );
}

function strList(c: Input, key: string, max: number, itemMax: number): string[] | undefined {
  const v = c[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.length > itemMax) || v.length > max) {
    throw Errors.validation(`1 validation error detected: Value at 'cors.${key[0]!.toLowerCase()}${key.slice(1)}' failed to satisfy constraint: Member must be a list of at most ${max} strings`);
  }
  return v as string[];
}

/** Lambda's Cors shape (PascalCase) to the gateway's CorsConfig. */
export function corsFromWire(v: unknown): CorsConfig | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw Errors.validation('Cors must be an object');
  const c = v as Input;
  const out: CorsConfig = {};
  const origins = strList(c, 'AllowOrigins', 100, 253);
  const methods = strList(c, 'AllowMethods', 6, 6);
  const headers = strList(c, 'AllowHeaders', 100, 1024);
  const expose = strList(c, 'ExposeHeaders', 100, 1024);
  if (origins) out.allowOrigins = origins;
  if (methods) out.allowMethods = methods;
  if (headers) out.allowHeaders = headers;
  if (expose) out.exposeHeaders = expose;
  if (c.MaxAge !== undefined && c.MaxAge !== null) {
    if (typeof c.MaxAge !== 'number' || !Number.isInteger(c.MaxAge) || c.MaxAge < 0 || c.MaxAge > 86400) {
      // The model's MaxAge: an integer, min 0, max 86400; the message names the bound crossed.
      const bound = typeof c.MaxAge === 'number' && c.MaxAge < 0 ? 'greater than or equal to 0' : 'less than or equal to 86400';
      throw Errors.validation(`1 validation error detected: Value '${String(c.MaxAge)}' at 'cors.maxAge' failed to satisfy constraint: Member must have value ${bound}`);
    }
    out.maxAge = c.MaxAge;
  }
  if (c.AllowCredentials !== undefined && c.AllowCredentials !== null) {
    if (typeof c.AllowCredentials !== 'boolean') throw Errors.validation('Cors.AllowCredentials must be a boolean');
    out.allowCredentials = c.AllowCredentials;
  }
  return out;
}

export function corsToWire(c: CorsConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (c.allowCredentials !== undefined) out.AllowCredentials = c.allowCredentials;
  if (c.allowHeaders) out.AllowHeaders = c.allowHeaders;
  if (c.allowMethods) out.AllowMethods = c.allowMethods;
  if (c.allowOrigins) out.AllowOrigins = c.allowOrigins;
  if (c.exposeHeaders) out.ExposeHeaders = c.exposeHeaders;
  if (c.maxAge !== undefined) out.MaxAge = c.maxAge;
  return out;
}

/** http://URL_ID.lambda-url.localhost:PORT/ from the server's base URL. */
export function functionUrlOf(baseUrl: string, urlId: string): string {
  const port = /:(\d+)$/.exec(baseUrl)?.[1];
  return `http://${urlId}.lambda-url.localhost${port ? `:${port}` : ''}/`;
}

/**
 * Function URL configurations (Create/Get/Update/Delete/ListFunctionUrlConfig(s)). Every write
 * announces `{resource, url, urlId}`.
 */
export class UrlService {
  constructor(
    private readonly deps: {
      store: UrlStore;
      functions: FunctionStore;
      changes: ChangeFeed;
      clock: Clock;
      locale: Locale;
      baseUrl: () => string;
      onChanged?: (urlId: string) => Promise<void>;
    },
  ) {}

  private async changed(urlId: string): Promise<void> {
    await this.deps.onChanged?.(urlId);
    await this.deps.changes.publish({ kind: 'resource', type: URL_CHANGE_TYPE, id: urlId });
  }

  /** FunctionName path parameter + Qualifier query parameter -> (name, qualifier). */
  private async target(functionName: string, qualifierParam: unknown): Promise<{ name: string; qualifier: string }> {
    const ref = parseFunctionRef(functionName, this.deps.locale);
    const q = qualifierParam === undefined || qualifierParam === '' ? undefined : String(qualifierParam);
    if (ref.qualifier !== undefined && q !== undefined && ref.qualifier !== q) {
      throw Errors.invalidParameter('The derived qualifier from the function name does not match the specified qualifier.');
    }
    const qualifier = q ?? ref.qualifier;
    if (qualifier !== undefined && (qualifier === LATEST || isNumericVersion(qualifier) || !/^[0-9a-zA-Z_-]{1,128}$/.test(qualifier))) {
      throw Errors.validation(
        `1 validation error detected: Value '${qualifier}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)`,
      );
    }
    const fn = await this.deps.functions.getFunction(ref.name);
    if (!fn) throw Errors.resourceNotFound(`Function not found: ${functionArn(this.deps.locale, ref.name, qualifier)}`);
    if (qualifier !== undefined && !(await this.deps.functions.getAlias(ref.name, qualifier))) {
      throw Errors.resourceNotFound(`Function not found: ${functionArn(this.deps.locale, ref.name, qualifier)}`);
    }
    return { name: ref.name, qualifier: qualifier ?? LATEST };
  }

  toWire(c: UrlConfig, withModified = true): Record<string, unknown> {
    const out: Record<string, unknown> = {
      FunctionUrl: functionUrlOf(this.deps.baseUrl(), c.urlId),
      FunctionArn: functionArn(this.deps.locale, c.functionName, c.qualifier === LATEST ? undefined : c.qualifier),
      AuthType: c.authType,
      CreationTime: lambdaTimestamp(c.createdAt),
      InvokeMode: c.invokeMode,
    };
    if (c.cors) out.Cors = corsToWire(c.cors);
    if (withModified) out.LastModifiedTime = lambdaTimestamp(c.modifiedAt);
    return out;
  }

  private authType(v: unknown, required: boolean): UrlConfig['authType'] | undefined {
    if (v === undefined || v === null) {
      if (required) throw Errors.validation("1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null");
      return undefined;
    }
    if (v !== 'NONE' && v !== 'AWS_IAM') throw enumError(v, 'authType', ['NONE', 'AWS_IAM']);
    return v;
  }

  private invokeMode(v: unknown): UrlConfig['invokeMode'] | undefined {
    if (v === undefined || v === null) return undefined;
    if (v !== 'BUFFERED' && v !== 'RESPONSE_STREAM') throw enumError(v, 'invokeMode', ['BUFFERED', 'RESPONSE_STREAM']);
    return v;
  }

  async create(functionName: string, qualifier: unknown, input: Input): Promise<Record<string, unknown>> {
    // The request's shape is validated before the function is looked up, as Lambda does: a bad
    // AuthType is a ValidationException even for a function or alias that does not exist.
    const authType = this.authType(input.AuthType, true)!;
    const invokeMode = this.invokeMode(input.InvokeMode) ?? 'BUFFERED';
    const cors = corsFromWire(input.Cors);
    const t = await this.target(functionName, qualifier);
    // Tenant isolation "is incompatible with Function URLs" (a URL's request carries no tenant
    // id): refused. Lambda's words for it are not documented.
    if ((await this.deps.functions.getVersion(t.name, LATEST))?.config.tenancy) {
      throw Errors.invalidParameter('Function URLs are not supported for functions with tenant isolation mode (TenancyConfig PER_TENANT).');
    }
    const now = this.deps.clock.now();
    const c: UrlConfig = { functionName: t.name, qualifier: t.qualifier, urlId: newUrlId(), authType, invokeMode, createdAt: now, modifiedAt: now };
    if (cors) c.cors = cors;
    if (!(await this.deps.store.create(c))) {
      throw Errors.resourceConflict(
        `Failed to create function url config for [functionArn = ${functionArn(this.deps.locale, t.name, t.qualifier === LATEST ? undefined : t.qualifier)}]. Error message:  FunctionUrlConfig exists for this Lambda function`,
      );
    }
    await this.changed(c.urlId);
    return this.toWire(c, false);
  }

  private async existing(functionName: string, qualifier: unknown): Promise<UrlConfig> {
    const t = await this.target(functionName, qualifier);
    const c = await this.deps.store.get(t.name, t.qualifier);
    if (!c) throw Errors.resourceNotFound('The resource you requested does not exist.');
    return c;
  }

  async get(functionName: string, qualifier: unknown): Promise<Record<string, unknown>> {
    return this.toWire(await this.existing(functionName, qualifier));
  }

  async update(functionName: string, qualifier: unknown, input: Input): Promise<Record<string, unknown>> {
    // Validated before the lookup, as in create.
    const authType = this.authType(input.AuthType, false);
    const invokeMode = this.invokeMode(input.InvokeMode);
    const cors = corsFromWire(input.Cors);
    const cur = await this.existing(functionName, qualifier);
    const next: UrlConfig = { ...cur, modifiedAt: this.deps.clock.now() };
    if (authType) next.authType = authType;
    if (invokeMode) next.invokeMode = invokeMode;
    if (input.Cors !== undefined) {
      if (cors) next.cors = cors;
      else delete next.cors;
    }
    await this.deps.store.update(next);
    await this.changed(next.urlId);
    return this.toWire(next);
  }

  async delete(functionName: string, qualifier: unknown): Promise<void> {
    const c = await this.existing(functionName, qualifier);
    await this.deps.store.delete(c.functionName, c.qualifier);
    await this.changed(c.urlId);
  }

  async list(functionName: string, marker: unknown, maxItems: unknown): Promise<Record<string, unknown>> {
    const ref = parseFunctionRef(functionName, this.deps.locale);
    if (!(await this.deps.functions.getFunction(ref.name))) throw Errors.resourceNotFound(`Function not found: ${functionArn(this.deps.locale, ref.name)}`);
    const max = pageSize(maxItems, 50, 50);
    const all = await this.deps.store.list(ref.name);
    const start = marker ? Number(Buffer.from(String(marker), 'base64').toString()) || 0 : 0;
    const slice = all.slice(start, start + max);
    const out: Record<string, unknown> = { FunctionUrlConfigs: slice.map((c) => this.toWire(c)) };
    if (start + max < all.length) out.NextMarker = Buffer.from(String(start + max)).toString('base64');
    return out;
  }

  /** The URL of an alias that was deleted goes with it. */
  async dropQualifier(c: UrlConfig): Promise<void> {
    if (await this.deps.store.delete(c.functionName, c.qualifier)) await this.changed(c.urlId);
  }

  /** A deleted function loses its URLs. */
  async dropFunction(functionName: string): Promise<string[]> {
    return this.deps.store.deleteFunction(functionName);
  }
}
