import { randomBytes } from 'node:crypto';
import { parseFunctionRef } from '../../core/arn.js';
import { StratusError } from '../../core/errors.js';
import { isValidIdentitySource } from '../../core/gateway-auth.js';
import type { CorsConfig } from '../../core/gateway-cors.js';
import { substituteStageVariables } from '../../core/gateway-stage-variables.js';
import type { Locale } from '../../core/model.js';
import { parseRouteKey } from '../../core/route-match.js';
import { withoutKeys } from '../../core/tags.js';
import type { ChangeFeed, Clock } from '../../ports/index.js';
import type { GatewayStore } from './store.js';
import {
  DEFAULT_STAGE, DEFAULT_TIMEOUT_MS,
  type ApiSpec, type AuthorizerSpec, type ChildKind, type ChildSpec, type DeploymentSpec, type IntegrationSpec, type JwtConfiguration,
  type RouteSpec, type StageSpec,
} from './types.js';

export const CHANGE_TYPE = 'apigw';
type Input = Record<string, unknown>;

export const GatewayErrors = {
  notFound: (message: string, resourceType?: string) => new StratusError('NotFoundException', 404, message, resourceType ? { resourceType } : {}),
  badRequest: (message: string) => new StratusError('BadRequestException', 400, message),
  conflict: (message: string) => new StratusError('ConflictException', 409, message),
};

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
export function newId(len: number): string {
  const b = randomBytes(len);
  let s = '';
  for (let i = 0; i < len; i++) s += ALNUM[b[i]! % ALNUM.length];
  return s;
}

function str(input: Input, key: string, opts: { required?: boolean; min?: number; max?: number } = {}): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) {
    if (opts.required) throw GatewayErrors.badRequest(`Invalid input: ${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw GatewayErrors.badRequest(`Invalid input: ${key} must be a string`);
  if (opts.min !== undefined && v.length < opts.min) throw GatewayErrors.badRequest(`Invalid input: ${key} must have length at least ${opts.min}`);
  if (opts.max !== undefined && v.length > opts.max) throw GatewayErrors.badRequest(`Invalid input: ${key} must have length at most ${opts.max}`);
  return v;
}

function bool(input: Input, key: string): boolean | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw GatewayErrors.badRequest(`Invalid input: ${key} must be a boolean`);
  return v;
}

function int(input: Input, key: string, min: number, max: number): number | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw GatewayErrors.badRequest(`Invalid input: ${key} must be an integer between ${min} and ${max}`);
  }
  return v;
}

function strList(input: Input, key: string): string[] | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw GatewayErrors.badRequest(`Invalid input: ${key} must be a list of strings`);
  return v as string[];
}

function strMap(input: Input, key: string): Record<string, string> | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw GatewayErrors.badRequest(`Invalid input: ${key} must be a map of strings`);
  }
  return { ...(v as Record<string, string>) };
}

function corsOf(input: Input, key: string): CorsConfig | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw GatewayErrors.badRequest(`Invalid input: ${key} must be an object`);
  const c = v as Input;
  const out: CorsConfig = {};
  const origins = strList(c, 'allowOrigins');
  const methods = strList(c, 'allowMethods');
  const headers = strList(c, 'allowHeaders');
  const expose = strList(c, 'exposeHeaders');
  const maxAge = int(c, 'maxAge', -1, 86400);
  const creds = bool(c, 'allowCredentials');
  if (origins) out.allowOrigins = origins;
  if (methods) out.allowMethods = methods;
  if (headers) out.allowHeaders = headers;
  if (expose) out.exposeHeaders = expose;
  if (maxAge !== undefined) out.maxAge = maxAge;
  if (creds !== undefined) out.allowCredentials = creds;
  if (creds && origins?.includes('*')) {
    throw GatewayErrors.badRequest('allow-credentials is not supported if allow-origin is *');
  }
  return out;
}

/** The function a Lambda integration URI names (function ARN, apigateway invocation ARN or name). */
export function integrationFunction(uri: string): { functionName: string; qualifier?: string } | undefined {
  const m = /^arn:[^:]+:apigateway:[^:]+:lambda:path\/2015-03-31\/functions\/(.+)\/invocations$/.exec(uri);
  const ref = m ? m[1]! : uri;
  try {
    const r = parseFunctionRef(ref);
    return r.qualifier ? { functionName: r.name, qualifier: r.qualifier } : { functionName: r.name };
  } catch {
    return undefined;
  }
}

/** Quick create's Target: Stratus serves Lambda integrations only (an HTTP URL would make an HTTP_PROXY one). */
function checkQuickTarget(target: string): void {
  if (!integrationFunction(target)) throw GatewayErrors.badRequest(`Invalid target ${target}: quick create needs a Lambda function ARN`);
}

function checkQuickRouteKey(routeKey: string): void {
  const parsed = parseRouteKey(routeKey);
  if ('error' in parsed) throw GatewayErrors.badRequest(parsed.error);
}

function page<T>(items: T[], input: Input): { items: T[]; nextToken?: string } {
  const max = input.maxResults !== undefined ? Number(input.maxResults) : 1000;
  const start = input.nextToken ? Number(Buffer.from(String(input.nextToken), 'base64').toString()) : 0;
  if (!Number.isInteger(max) || max < 1 || !Number.isInteger(start) || start < 0) throw GatewayErrors.badRequest('Invalid pagination parameters');
  const slice = items.slice(start, start + max);
  const out: { items: T[]; nextToken?: string } = { items: slice };
  if (start + max < items.length) out.nextToken = Buffer.from(String(start + max)).toString('base64');
  return out;
}

const KIND_NAMES: Record<ChildKind, string> = { route: 'Route', integration: 'Integration', stage: 'Stage', authorizer: 'Authorizer', deployment: 'Deployment' };

/** A child as the wire shows it: a deployment's stored snapshot stays inside. */
function wire<T extends ChildSpec>(kind: ChildKind, spec: T): T {
  if (kind !== 'deployment') return spec;
  const { snapshot: _snapshot, ...rest } = spec as DeploymentSpec;
  return rest as T;
}

/** API Gateway v2 management for HTTP APIs. Every write announces `{resource, apigw, apiId}`. */
export class GatewayService {
  constructor(
    private readonly deps: {
      store: GatewayStore;
      changes: ChangeFeed;
      clock: Clock;
      locale: Locale;
      endpointFor: (apiId: string) => string;
      /** Read-your-writes on this node: refresh the local routing table before answering. */
      onChanged?: (apiId: string) => Promise<void>;
      /** Drops this node's cached Lambda authorizer results of one stage. */
      resetAuthorizersCache?: (apiId: string, stageName: string) => void;
    },
  ) {}

  private get store() {
    return this.deps.store;
  }

  private now(): string {
    return new Date(this.deps.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private async changed(apiId: string): Promise<void> {
    await this.deps.onChanged?.(apiId);
    await this.deps.changes.publish({ kind: 'resource', type: CHANGE_TYPE, id: apiId });
  }

  private withEndpoint(api: ApiSpec): ApiSpec {
    return { ...api, apiEndpoint: this.deps.endpointFor(api.apiId) };
  }

  private async requireApi(apiId: string): Promise<ApiSpec> {
    const api = await this.store.getApi(apiId);
    if (!api) throw GatewayErrors.notFound(`Invalid API identifier specified ${this.deps.locale.accountId}:${apiId}`, 'Api');
    return api;
  }

  private async requireChild<T extends ChildSpec>(apiId: string, kind: ChildKind, id: string): Promise<T> {
    await this.requireApi(apiId);
    const c = await this.store.getChild<T>(apiId, kind, id);
    if (!c) throw GatewayErrors.notFound(`Invalid ${KIND_NAMES[kind]} identifier specified ${this.deps.locale.accountId}:${apiId}:${id}`, KIND_NAMES[kind]);
    return c;
  }

  // ---- APIs

  async createApi(input: Input): Promise<ApiSpec> {
    const name = str(input, 'name', { required: true, min: 1, max: 128 })!;
    const protocolType = str(input, 'protocolType', { required: true });
    if (protocolType !== 'HTTP') throw GatewayErrors.badRequest(`Unsupported protocol type ${protocolType}: Stratus serves HTTP APIs only`);
    const cors = corsOf(input, 'corsConfiguration');
    const target = str(input, 'target', { max: 2048 });
    const routeKey = str(input, 'routeKey');
    if (routeKey !== undefined && target === undefined) throw GatewayErrors.badRequest('RouteKey can only be specified with Target (quick create)');
    const now = this.now();
    const api: ApiSpec = {
      apiId: newId(10),
      name,
      protocolType: 'HTTP',
      apiKeySelectionExpression: str(input, 'apiKeySelectionExpression') ?? '$request.header.x-api-key',
      routeSelectionExpression: str(input, 'routeSelectionExpression') ?? '$request.method $request.path',
      createdDate: now,
      disableExecuteApiEndpoint: bool(input, 'disableExecuteApiEndpoint') ?? false,
      tags: strMap(input, 'tags') ?? {},
    };
    if (cors) api.corsConfiguration = cors;
    const description = str(input, 'description', { max: 1024 });
    if (description !== undefined) api.description = description;
    const version = str(input, 'version', { max: 64 });
    if (version !== undefined) api.version = version;
    const children: Array<{ kind: ChildKind; id: string; spec: ChildSpec }> = [];
    if (target !== undefined) {
      checkQuickTarget(target);
      const rk = routeKey ?? '$default';
      checkQuickRouteKey(rk);
      const integration: IntegrationSpec = {
        integrationId: newId(7),
        integrationType: 'AWS_PROXY',
        integrationUri: target,
        integrationMethod: 'POST',
        connectionType: 'INTERNET',
        payloadFormatVersion: '2.0',
        timeoutInMillis: DEFAULT_TIMEOUT_MS,
        apiGatewayManaged: true,
      };
      const route: RouteSpec = {
        routeId: newId(7),
        routeKey: rk,
        apiKeyRequired: false,
        authorizationType: 'NONE',
        target: `integrations/${integration.integrationId}`,
        apiGatewayManaged: true,
      };
      const stage: StageSpec = {
        stageName: DEFAULT_STAGE, autoDeploy: true, createdDate: now, lastUpdatedDate: now, defaultRouteSettings: {}, routeSettings: {}, tags: {}, apiGatewayManaged: true,
      };
      children.push(
        { kind: 'integration', id: integration.integrationId, spec: integration },
        { kind: 'route', id: route.routeId, spec: route },
        { kind: 'stage', id: stage.stageName, spec: stage },
      );
    }
    await this.store.createApi(api, children, this.deps.clock.now());
    if (target !== undefined) await this.autoDeploy(api.apiId);
    await this.changed(api.apiId);
    return this.withEndpoint(api);
  }

  async getApi(apiId: string): Promise<ApiSpec> {
    return this.withEndpoint(await this.requireApi(apiId));
  }

  async getApis(input: Input): Promise<{ items: ApiSpec[]; nextToken?: string }> {
    const p = page(await this.store.listApis(), input);
    return { ...p, items: p.items.map((a) => this.withEndpoint(a)) };
  }

  async updateApi(apiId: string, input: Input): Promise<ApiSpec> {
    const api = await this.requireApi(apiId);
    const next: ApiSpec = { ...api };
    const name = str(input, 'name', { min: 1, max: 128 });
    if (name !== undefined) next.name = name;
    const description = str(input, 'description', { max: 1024 });
    if (description !== undefined) next.description = description;
    const version = str(input, 'version', { max: 64 });
    if (version !== undefined) next.version = version;
    const cors = corsOf(input, 'corsConfiguration');
    if (cors !== undefined) next.corsConfiguration = cors;
    const disable = bool(input, 'disableExecuteApiEndpoint');
    if (disable !== undefined) next.disableExecuteApiEndpoint = disable;
    const rse = str(input, 'routeSelectionExpression');
    if (rse !== undefined) next.routeSelectionExpression = rse;
    const quick = await this.quickCreateUpdate(apiId, input);
    for (const c of quick) await this.store.updateChild(apiId, c.kind, c.id, c.spec);
    await this.store.updateApi(next);
    if (quick.length) await this.autoDeploy(apiId);
    await this.changed(apiId);
    return this.withEndpoint(next);
  }

  /**
   * UpdateApi's Target and RouteKey (quick create): Target replaces the URI (and type) of the
   * integration quick create made, RouteKey the key of its route; both are checked as CreateApi
   * checks them. An API without those API Gateway managed resources has nothing to update.
   */
  private async quickCreateUpdate(apiId: string, input: Input): Promise<Array<{ kind: ChildKind; id: string; spec: ChildSpec }>> {
    const target = str(input, 'target', { min: 1, max: 2048 });
    const routeKey = str(input, 'routeKey');
    if (target === undefined && routeKey === undefined) return [];
    const notQuick = (what: string) => GatewayErrors.badRequest(`Target and RouteKey can only be updated on an API made by quick create: API ${apiId} has no quick create ${what}`);
    const out: Array<{ kind: ChildKind; id: string; spec: ChildSpec }> = [];
    if (target !== undefined) {
      checkQuickTarget(target);
      const integ = (await this.store.listChildren<IntegrationSpec>(apiId, 'integration')).find((i) => i.apiGatewayManaged);
      if (!integ) throw notQuick('integration');
      out.push({ kind: 'integration', id: integ.integrationId, spec: { ...integ, integrationType: 'AWS_PROXY', integrationUri: target } });
    }
    if (routeKey !== undefined) {
      checkQuickRouteKey(routeKey);
      const route = (await this.store.listChildren<RouteSpec>(apiId, 'route')).find((r) => r.apiGatewayManaged);
      if (!route) throw notQuick('route');
      const next: RouteSpec = { ...route, routeKey };
      await this.validateRoute(apiId, next);
      out.push({ kind: 'route', id: route.routeId, spec: next });
    }
    return out;
  }

  async deleteApi(apiId: string): Promise<void> {
    await this.requireApi(apiId);
    await this.store.deleteApi(apiId);
    await this.changed(apiId);
  }

  async deleteCorsConfiguration(apiId: string): Promise<void> {
    const api = await this.requireApi(apiId);
    const next = { ...api };
    delete next.corsConfiguration;
    await this.store.updateApi(next);
    await this.changed(apiId);
  }

  // ---- routes

  private async validateRoute(apiId: string, r: RouteSpec): Promise<void> {
    const parsed = parseRouteKey(r.routeKey);
    if ('error' in parsed) throw GatewayErrors.badRequest(parsed.error);
    if (r.target !== undefined) {
      const m = /^integrations\/([A-Za-z0-9]+)$/.exec(r.target);
      if (!m) throw GatewayErrors.badRequest(`Invalid target ${r.target}: must be integrations/{integrationId}`);
      if (!(await this.store.getChild(apiId, 'integration', m[1]!))) throw GatewayErrors.badRequest(`Invalid integration identifier specified ${m[1]}`);
    }
    if (!['NONE', 'JWT', 'CUSTOM', 'AWS_IAM'].includes(r.authorizationType)) throw GatewayErrors.badRequest(`Invalid authorization type ${r.authorizationType}`);
    if (r.authorizationType === 'JWT' || r.authorizationType === 'CUSTOM') {
      if (!r.authorizerId) throw GatewayErrors.badRequest(`AuthorizerId is required for authorization type ${r.authorizationType}`);
      const a = await this.store.getChild<AuthorizerSpec>(apiId, 'authorizer', r.authorizerId);
      if (!a) throw GatewayErrors.badRequest(`Invalid authorizer identifier specified ${r.authorizerId}`);
      const want = r.authorizationType === 'JWT' ? 'JWT' : 'REQUEST';
      if (a.authorizerType !== want) throw GatewayErrors.badRequest(`Authorizer ${r.authorizerId} is of type ${a.authorizerType}, not usable with ${r.authorizationType}`);
    }
    if (r.authorizationScopes?.length && r.authorizationType !== 'JWT') {
      throw GatewayErrors.badRequest('AuthorizationScopes are only supported with JWT authorizers');
    }
    const routes = await this.store.listChildren<RouteSpec>(apiId, 'route');
    if (routes.some((o) => o.routeKey === r.routeKey && o.routeId !== r.routeId)) {
      throw GatewayErrors.conflict(`Unable to complete operation due to concurrent modification. Route key ${r.routeKey} already exists`);
    }
  }

  private applyRouteInput(r: RouteSpec, input: Input): RouteSpec {
    const next = { ...r };
    const rk = str(input, 'routeKey');
    if (rk !== undefined) next.routeKey = rk;
    const target = str(input, 'target', { max: 128 });
    if (target !== undefined) next.target = target;
    const at = str(input, 'authorizationType');
    if (at !== undefined) next.authorizationType = at as RouteSpec['authorizationType'];
    const aid = str(input, 'authorizerId');
    if (aid !== undefined) next.authorizerId = aid;
    const scopes = strList(input, 'authorizationScopes');
    if (scopes !== undefined) next.authorizationScopes = scopes;
    const op = str(input, 'operationName', { max: 64 });
    if (op !== undefined) next.operationName = op;
    const akr = bool(input, 'apiKeyRequired');
    if (akr !== undefined) next.apiKeyRequired = akr;
    if (next.authorizationType === 'NONE') {
      delete next.authorizerId;
    }
    return next;
  }

  async createRoute(apiId: string, input: Input): Promise<RouteSpec> {
    await this.requireApi(apiId);
    str(input, 'routeKey', { required: true });
    const route = this.applyRouteInput({ routeId: newId(7), routeKey: '', apiKeyRequired: false, authorizationType: 'NONE' }, input);
    await this.validateRoute(apiId, route);
    await this.store.createChild(apiId, 'route', route.routeId, route, this.deps.clock.now());
    await this.autoDeploy(apiId);
    await this.changed(apiId);
    return route;
  }

  async updateRoute(apiId: string, routeId: string, input: Input): Promise<RouteSpec> {
    const cur = await this.requireChild<RouteSpec>(apiId, 'route', routeId);
    const next = this.applyRouteInput(cur, input);
    await this.validateRoute(apiId, next);
    await this.store.updateChild(apiId, 'route', routeId, next);
    await this.autoDeploy(apiId);
    await this.changed(apiId);
    return next;
  }

  // ---- integrations

  private applyIntegrationInput(cur: IntegrationSpec, input: Input): IntegrationSpec {
    const next = { ...cur };
    const t = str(input, 'integrationType');
    if (t !== undefined) next.integrationType = t as IntegrationSpec['integrationType'];
    const uri = str(input, 'integrationUri', { max: 2048 });
    if (uri !== undefined) next.integrationUri = uri;
    const pfv = str(input, 'payloadFormatVersion');
    if (pfv !== undefined) next.payloadFormatVersion = pfv as IntegrationSpec['payloadFormatVersion'];
    const timeout = int(input, 'timeoutInMillis', 50, 30000);
    if (timeout !== undefined) next.timeoutInMillis = timeout;
    const method = str(input, 'integrationMethod');
    if (method !== undefined) next.integrationMethod = method;
    const description = str(input, 'description', { max: 1024 });
    if (description !== undefined) next.description = description;
    const creds = str(input, 'credentialsArn');
    if (creds !== undefined) next.credentialsArn = creds;
    const ct = str(input, 'connectionType');
    if (ct !== undefined) next.connectionType = ct;
    const rp = strMap(input, 'requestParameters');
    if (rp !== undefined) next.requestParameters = rp;
    if (!['AWS_PROXY', 'HTTP_PROXY'].includes(next.integrationType)) {
      throw GatewayErrors.badRequest(`Integration type ${next.integrationType} is not supported for HTTP APIs`);
    }
    if (next.integrationType === 'HTTP_PROXY') throw GatewayErrors.badRequest('HTTP_PROXY integrations are not supported by Stratus yet');
    if (!next.integrationUri) throw GatewayErrors.badRequest('IntegrationUri is required for AWS_PROXY integrations');
    // ${stageVariables.NAME} may stand for the function's name or alias: checked here with a placeholder, resolved per request.
    if (!integrationFunction(substituteStageVariables(next.integrationUri, () => 'x')!)) {
      throw GatewayErrors.badRequest(`Invalid integration URI ${next.integrationUri}: expected a Lambda function ARN`);
    }
    if (next.payloadFormatVersion !== '1.0' && next.payloadFormatVersion !== '2.0') {
      throw GatewayErrors.badRequest(`Invalid payload format version ${String(next.payloadFormatVersion)}: must be 1.0 or 2.0`);
    }
    return next;
  }

  async createIntegration(apiId: string, input: Input): Promise<IntegrationSpec> {
    await this.requireApi(apiId);
    str(input, 'integrationType', { required: true });
    if (input.payloadFormatVersion === undefined) throw GatewayErrors.badRequest('PayloadFormatVersion is required for AWS_PROXY integrations in HTTP APIs');
    const integration = this.applyIntegrationInput(
      { integrationId: newId(7), integrationType: 'AWS_PROXY', connectionType: 'INTERNET', payloadFormatVersion: '2.0', timeoutInMillis: DEFAULT_TIMEOUT_MS, integrationMethod: 'POST' },
      input,
    );
    await this.store.createChild(apiId, 'integration', integration.integrationId, integration, this.deps.clock.now());
    await this.autoDeploy(apiId);
    await this.changed(apiId);
    return integration;
  }

  async updateIntegration(apiId: string, id: string, input: Input): Promise<IntegrationSpec> {
    const cur = await this.requireChild<IntegrationSpec>(apiId, 'integration', id);
    const next = this.applyIntegrationInput(cur, input);
    await this.store.updateChild(apiId, 'integration', id, next);
    await this.autoDeploy(apiId);
    await this.changed(apiId);
    return next;
  }

  // ---- stages

  private applyStageInput(cur: StageSpec, input: Input): StageSpec {
    const next = { ...cur };
    const ad = bool(input, 'autoDeploy');
    if (ad !== undefined) next.autoDeploy = ad;
    const d = str(input, 'description', { max: 1024 });
    if (d !== undefined) next.description = d;
    const sv = strMap(input, 'stageVariables');
    if (sv !== undefined) next.stageVariables = sv;
    const dep = str(input, 'deploymentId');
    if (dep !== undefined) next.deploymentId = dep;
    for (const k of ['defaultRouteSettings', 'routeSettings'] as const) {
      const v = input[k];
      if (v !== undefined && v !== null) {
        if (typeof v !== 'object' || Array.isArray(v)) throw GatewayErrors.badRequest(`Invalid input: ${k} must be an object`);
        next[k] = v as Record<string, unknown>;
      }
    }
    next.lastUpdatedDate = this.now();
    return next;
  }

  /** A stage may only point at a deployment of its own API. */
  private async requireDeployment(apiId: string, deploymentId: string | undefined): Promise<void> {
    if (deploymentId === undefined) return;
    if (!(await this.store.getChild(apiId, 'deployment', deploymentId))) {
      throw GatewayErrors.notFound(`Invalid Deployment identifier specified ${this.deps.locale.accountId}:${apiId}:${deploymentId}`, 'Deployment');
    }
  }

  async createStage(apiId: string, input: Input): Promise<StageSpec> {
    await this.requireApi(apiId);
    const stageName = str(input, 'stageName', { required: true, min: 1, max: 128 })!;
    if (stageName !== DEFAULT_STAGE && !/^[A-Za-z0-9_-]+$/.test(stageName)) {
      throw GatewayErrors.badRequest(`Stage name only allows a-zA-Z0-9_- or $default: ${stageName}`);
    }
    const now = this.now();
    const stage = this.applyStageInput(
      { stageName, autoDeploy: false, createdDate: now, lastUpdatedDate: now, defaultRouteSettings: {}, routeSettings: {}, tags: strMap(input, 'tags') ?? {} },
      input,
    );
    await this.requireDeployment(apiId, stage.deploymentId);
    if (!(await this.store.createChild(apiId, 'stage', stageName, stage, this.deps.clock.now()))) {
      throw GatewayErrors.conflict(`Stage already exists: ${stageName}`);
    }
    const created = stage.autoDeploy ? (await this.autoDeploy(apiId, stageName))[0] ?? stage : stage;
    await this.changed(apiId);
    return created;
  }

  async updateStage(apiId: string, stageName: string, input: Input): Promise<StageSpec> {
    const cur = await this.requireChild<StageSpec>(apiId, 'stage', stageName);
    let next = this.applyStageInput(cur, input);
    if (next.deploymentId !== cur.deploymentId) await this.requireDeployment(apiId, next.deploymentId);
    else if (cur.autoDeploy && !next.autoDeploy && !next.deploymentId) {
      // Auto-deploy turned off: the stage keeps serving what it served, as its last auto deployment
      // (a stage stored before automatic deployments were recorded has none yet).
      next.deploymentId = (await this.deploy(apiId, true)).deploymentId;
    }
    await this.store.updateChild(apiId, 'stage', stageName, next);
    if (next.autoDeploy && !cur.autoDeploy) next = (await this.autoDeploy(apiId, stageName))[0] ?? next;
    await this.changed(apiId);
    return next;
  }

  async resetAuthorizersCache(apiId: string, stageName: string): Promise<void> {
    await this.requireChild(apiId, 'stage', stageName);
    this.deps.resetAuthorizersCache?.(apiId, stageName);
  }

  // ---- deployments

  /**
   * Snapshots the API's routes, integrations and authorizers. A stage without autoDeploy serves
   * the snapshot its deploymentId names; with StageName, that stage now points at this one.
   */
  async createDeployment(apiId: string, input: Input): Promise<DeploymentSpec> {
    await this.requireApi(apiId);
    const description = str(input, 'description', { max: 1024 });
    const stageName = str(input, 'stageName', { min: 1, max: 128 });
    const stage = stageName !== undefined ? await this.requireChild<StageSpec>(apiId, 'stage', stageName) : undefined;
    const deployment = await this.deploy(apiId, false, description);
    if (stage) {
      await this.store.updateChild(apiId, 'stage', stage.stageName, { ...stage, deploymentId: deployment.deploymentId, lastUpdatedDate: this.now() });
    }
    await this.changed(apiId);
    return wire('deployment', deployment);
  }

  /** Stores a snapshot of the API's routes, integrations and authorizers as a deployment. */
  private async deploy(apiId: string, autoDeployed: boolean, description?: string): Promise<DeploymentSpec> {
    const deployment: DeploymentSpec = {
      deploymentId: newId(6),
      createdDate: this.now(),
      autoDeployed,
      deploymentStatus: 'DEPLOYED',
      snapshot: {
        routes: await this.store.listChildren<RouteSpec>(apiId, 'route'),
        integrations: await this.store.listChildren<IntegrationSpec>(apiId, 'integration'),
        authorizers: await this.store.listChildren<AuthorizerSpec>(apiId, 'authorizer'),
      },
    };
    if (description !== undefined) deployment.description = description;
    await this.store.createChild(apiId, 'deployment', deployment.deploymentId, deployment, this.deps.clock.now());
    return deployment;
  }

  /**
   * API Gateway deploys an autoDeploy stage on every change to the API's routes, integrations and
   * authorizers (and when the stage gets autoDeploy): each such stage, or just `stageName`, gets an
   * automatic deployment and reports it. Such a stage serves the live routes, which this records.
   */
  private async autoDeploy(apiId: string, stageName?: string): Promise<StageSpec[]> {
    const out: StageSpec[] = [];
    for (const stage of await this.store.listChildren<StageSpec>(apiId, 'stage')) {
      if (!stage.autoDeploy || (stageName !== undefined && stage.stageName !== stageName)) continue;
      const { deploymentId } = await this.deploy(apiId, true);
      const next: StageSpec = {
        ...stage,
        deploymentId,
        lastDeploymentStatusMessage: `Successfully deployed stage with deployment ID '${deploymentId}'`,
        lastUpdatedDate: this.now(),
      };
      await this.store.updateChild(apiId, 'stage', stage.stageName, next);
      out.push(next);
      if (stage.deploymentId) await this.dropSuperseded(apiId, stage.deploymentId);
    }
    return out;
  }

  /**
   * An automatic deployment no stage uses any more (its stage moved on to the next one) is dropped:
   * each holds a copy of the API's routes, integrations and authorizers, and every change of an
   * auto-deployed API makes one; kept, they grew with the square of the changes and were read back
   * at every refresh of the API.
   */
  private async dropSuperseded(apiId: string, deploymentId: string): Promise<void> {
    const d = await this.store.getChild<DeploymentSpec>(apiId, 'deployment', deploymentId);
    if (!d?.autoDeployed) return;
    const stages = await this.store.listChildren<StageSpec>(apiId, 'stage');
    if (stages.some((s) => s.deploymentId === deploymentId)) return;
    await this.store.deleteChild(apiId, 'deployment', deploymentId);
  }

  async updateDeployment(apiId: string, id: string, input: Input): Promise<DeploymentSpec> {
    const cur = await this.requireChild<DeploymentSpec>(apiId, 'deployment', id);
    const next = { ...cur };
    const description = str(input, 'description', { max: 1024 });
    if (description !== undefined) next.description = description;
    await this.store.updateChild(apiId, 'deployment', id, next);
    return wire('deployment', next);
  }

  // ---- authorizers

  private applyAuthorizerInput(cur: AuthorizerSpec, input: Input): AuthorizerSpec {
    const next = { ...cur };
    const name = str(input, 'name', { min: 1, max: 128 });
    if (name !== undefined) next.name = name;
    const t = str(input, 'authorizerType');
    if (t !== undefined) next.authorizerType = t as AuthorizerSpec['authorizerType'];
    const ids = strList(input, 'identitySource');
    if (ids !== undefined) next.identitySource = ids;
    const jwt = input.jwtConfiguration;
    if (jwt !== undefined && jwt !== null) {
      if (typeof jwt !== 'object' || Array.isArray(jwt)) throw GatewayErrors.badRequest('Invalid input: jwtConfiguration must be an object');
      const j: JwtConfiguration = {};
      const aud = strList(jwt as Input, 'audience');
      const iss = str(jwt as Input, 'issuer');
      const jwksUri = str(jwt as Input, 'jwksUri', { max: 2048 });
      const jwks = (jwt as Input).jwks;
      if (aud) j.audience = aud;
      if (iss) j.issuer = iss;
      if (jwksUri !== undefined) {
        if (!/^https?:\/\//.test(jwksUri)) throw GatewayErrors.badRequest(`Invalid jwksUri ${jwksUri}: must be an http(s) URL`);
        j.jwksUri = jwksUri;
      }
      if (jwks !== undefined && jwks !== null) {
        const keys = (jwks as { keys?: unknown }).keys;
        if (typeof jwks !== 'object' || !Array.isArray(keys) || keys.some((k) => typeof k !== 'object' || k === null || Array.isArray(k))) {
          throw GatewayErrors.badRequest('Invalid jwks: must be a JWK Set, {"keys": [...]}');
        }
        j.jwks = { keys: keys as Array<Record<string, unknown>> };
      }
      next.jwtConfiguration = j;
    }
    const uri = str(input, 'authorizerUri', { max: 2048 });
    if (uri !== undefined) next.authorizerUri = uri;
    const pfv = str(input, 'authorizerPayloadFormatVersion');
    if (pfv !== undefined) next.authorizerPayloadFormatVersion = pfv as '1.0' | '2.0';
    const ttl = int(input, 'authorizerResultTtlInSeconds', 0, 3600);
    if (ttl !== undefined) next.authorizerResultTtlInSeconds = ttl;
    const simple = bool(input, 'enableSimpleResponses');
    if (simple !== undefined) next.enableSimpleResponses = simple;
    const ive = str(input, 'identityValidationExpression');
    if (ive !== undefined) next.identityValidationExpression = ive;
    const creds = str(input, 'authorizerCredentialsArn');
    if (creds !== undefined) next.authorizerCredentialsArn = creds;

    if (next.authorizerType !== 'JWT' && next.authorizerType !== 'REQUEST') {
      throw GatewayErrors.badRequest(`Invalid authorizer type ${String(next.authorizerType)}: HTTP APIs support JWT and REQUEST`);
    }
    for (const s of next.identitySource) if (!isValidIdentitySource(s)) throw GatewayErrors.badRequest(`Invalid identity source ${s}`);
    if (next.authorizerType === 'JWT') {
      if (!next.jwtConfiguration?.issuer) throw GatewayErrors.badRequest('JwtConfiguration.Issuer is required for JWT authorizers');
      if (next.identitySource.length !== 1) throw GatewayErrors.badRequest('JWT authorizers take exactly one identity source');
    } else {
      if (!next.authorizerUri || !integrationFunction(next.authorizerUri)) throw GatewayErrors.badRequest('AuthorizerUri must name a Lambda function for REQUEST authorizers');
      if (next.authorizerPayloadFormatVersion !== '1.0' && next.authorizerPayloadFormatVersion !== '2.0') {
        throw GatewayErrors.badRequest('AuthorizerPayloadFormatVersion is required for REQUEST authorizers: 1.0 or 2.0');
      }
      if (next.enableSimpleResponses && next.authorizerPayloadFormatVersion !== '2.0') {
        throw GatewayErrors.badRequest('Simple responses are only supported with authorizer payload format version 2.0');
      }
      if ((next.authorizerResultTtlInSeconds ?? 0) > 0 && next.identitySource.length === 0) {
        throw GatewayErrors.badRequest('Identity sources are required when authorizer caching is enabled');
      }
    }
    return next;
  }

  async createAuthorizer(apiId: string, input: Input): Promise<AuthorizerSpec> {
    await this.requireApi(apiId);
    str(input, 'name', { required: true });
    str(input, 'authorizerType', { required: true });
    if (input.identitySource === undefined) throw GatewayErrors.badRequest('Invalid input: identitySource is required');
    const a = this.applyAuthorizerInput(
      { authorizerId: newId(7), name: '', authorizerType: 'JWT', identitySource: [], authorizerResultTtlInSeconds: 0 },
      input,
    );
    await this.store.createChild(apiId, 'authorizer', a.authorizerId, a, this.deps.clock.now());
    await this.autoDeploy(apiId);
    await this.changed(apiId);
    return a;
  }

  async updateAuthorizer(apiId: string, id: string, input: Input): Promise<AuthorizerSpec> {
    const cur = await this.requireChild<AuthorizerSpec>(apiId, 'authorizer', id);
    const next = this.applyAuthorizerInput(cur, input);
    await this.store.updateChild(apiId, 'authorizer', id, next);
    await this.autoDeploy(apiId);
    await this.changed(apiId);
    return next;
  }

  // ---- tags

  /** The API, or the stage, a tagging ARN names (arn:aws:apigateway:REGION::/apis/ID[/stages/NAME]). */
  private async taggable(resourceArn: string): Promise<{ apiId: string; stage?: StageSpec; tags: Record<string, string> }> {
    const m = /^arn:aws[a-z-]*:apigateway:([a-z0-9-]+)::\/apis\/([A-Za-z0-9]+)(?:\/stages\/([^/]+))?$/.exec(resourceArn);
    if (!m) throw GatewayErrors.badRequest(`Invalid resource ARN ${resourceArn}: expected arn:aws:apigateway:REGION::/apis/API_ID or .../stages/STAGE_NAME`);
    const region = m[1]!;
    const apiId = m[2]!;
    const stageName = m[3];
    if (region !== this.deps.locale.region) {
      throw GatewayErrors.notFound(`Invalid API identifier specified ${this.deps.locale.accountId}:${apiId}: resources in ${region} are not reachable in this region (${this.deps.locale.region})`, 'Api');
    }
    if (stageName === undefined) {
      const api = await this.requireApi(apiId);
      return { apiId, tags: api.tags };
    }
    const stage = await this.requireChild<StageSpec>(apiId, 'stage', stageName);
    return { apiId, stage, tags: stage.tags };
  }

  async getTags(resourceArn: string): Promise<{ tags: Record<string, string> }> {
    return { tags: { ...(await this.taggable(resourceArn)).tags } };
  }

  async tagResource(resourceArn: string, input: Input): Promise<Record<string, never>> {
    const add = strMap(input, 'tags') ?? {};
    const t = await this.taggable(resourceArn);
    await this.putTags(t, { ...t.tags, ...add });
    return {};
  }

  async untagResource(resourceArn: string, query: Input): Promise<void> {
    const raw = query.tagKeys;
    if (raw === undefined) throw GatewayErrors.badRequest('Invalid input: tagKeys is required');
    // The query string gives one key as a string, repeated keys as a list.
    const keys = strList({ tagKeys: Array.isArray(raw) ? raw : [raw] }, 'tagKeys')!;
    const t = await this.taggable(resourceArn);
    await this.putTags(t, withoutKeys(t.tags, keys));
  }

  private async putTags(t: { apiId: string; stage?: StageSpec }, tags: Record<string, string>): Promise<void> {
    if (t.stage) await this.store.updateChild(t.apiId, 'stage', t.stage.stageName, { ...t.stage, tags });
    else await this.store.updateApi({ ...(await this.requireApi(t.apiId)), tags });
    await this.changed(t.apiId);
  }

  // ---- generic child reads and deletes

  async getChild<T extends ChildSpec>(apiId: string, kind: ChildKind, id: string): Promise<T> {
    return wire(kind, await this.requireChild<T>(apiId, kind, id));
  }

  async listChildren<T extends ChildSpec>(apiId: string, kind: ChildKind, input: Input): Promise<{ items: T[]; nextToken?: string }> {
    await this.requireApi(apiId);
    const p = page(await this.store.listChildren<T>(apiId, kind), input);
    return { ...p, items: p.items.map((c) => wire(kind, c)) };
  }

  async deleteChild(apiId: string, kind: ChildKind, id: string): Promise<void> {
    await this.requireChild(apiId, kind, id);
    if (kind === 'integration' || kind === 'authorizer') {
      const routes = await this.store.listChildren<RouteSpec>(apiId, 'route');
      const used = routes.find((r) => (kind === 'integration' ? r.target === `integrations/${id}` : r.authorizerId === id));
      if (used) throw GatewayErrors.conflict(`Cannot delete ${KIND_NAMES[kind].toLowerCase()} ${id}: route ${used.routeKey} (${used.routeId}) uses it`);
    }
    if (kind === 'deployment') {
      const stages = await this.store.listChildren<StageSpec>(apiId, 'stage');
      const active = stages.find((st) => st.deploymentId === id);
      if (active) throw GatewayErrors.badRequest(`Active stages pointing to this deployment must be moved or deleted: ${active.stageName}`);
    }
    await this.store.deleteChild(apiId, kind, id);
    if (kind === 'route' || kind === 'integration' || kind === 'authorizer') await this.autoDeploy(apiId);
    await this.changed(apiId);
  }
}
