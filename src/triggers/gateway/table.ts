import { hasStageVariables, substituteStageVariables } from '../../core/gateway-stage-variables.js';
import { RouteTable, parseRouteKey } from '../../core/route-match.js';
import { integrationFunction } from './service.js';
import type { ApiBundle, GatewayStore } from './store.js';
import type { ApiSpec, AuthorizerSpec, DeploymentSpec, IntegrationSpec, RouteSpec, StageSpec } from './types.js';

export interface CompiledIntegration {
  spec: IntegrationSpec;
  functionName?: string;
  qualifier?: string;
  /** The URI when it names stage variables: the function is known per stage (integrationTarget). */
  uriTemplate?: string;
}

/**
 * The function an integration invokes on a stage; undefined when the stage lacks a variable the
 * URI names, or the substituted URI names no function (an integration failure).
 */
export function integrationTarget(i: CompiledIntegration, stageVariables: Record<string, string> | undefined): { functionName: string; qualifier?: string } | undefined {
  if (i.uriTemplate === undefined) return i.functionName ? { functionName: i.functionName, qualifier: i.qualifier } : undefined;
  const uri = substituteStageVariables(i.uriTemplate, (name) => stageVariables?.[name]);
  return uri === undefined ? undefined : integrationFunction(uri);
}

export interface CompiledRoute {
  route: RouteSpec;
  /** `/items/{id}` (undefined for $default). */
  resourcePath?: string;
  integration?: CompiledIntegration;
  authorizer?: AuthorizerSpec;
}

export interface CompiledApi {
  api: ApiSpec;
  stages: Map<string, StageSpec>;
  /** The live routes: what every autoDeploy stage serves. */
  routes: RouteTable<CompiledRoute>;
  /** Per stage: the live table with autoDeploy, else its deployment's; none: the stage serves nothing. */
  stageRoutes: Map<string, RouteTable<CompiledRoute>>;
}

function compileRoutes(routes: RouteSpec[], integrationSpecs: IntegrationSpec[], authorizerSpecs: AuthorizerSpec[]): RouteTable<CompiledRoute> {
  const integrations = new Map<string, CompiledIntegration>();
  for (const spec of integrationSpecs) {
    const uri = spec.integrationUri;
    if (uri && hasStageVariables(uri)) integrations.set(spec.integrationId, { spec, uriTemplate: uri });
    else integrations.set(spec.integrationId, { spec, ...(uri ? integrationFunction(uri) : undefined) });
  }
  const authorizers = new Map<string, AuthorizerSpec>(authorizerSpecs.map((a) => [a.authorizerId, a]));
  const entries = routes.map((route) => {
    const parsed = parseRouteKey(route.routeKey);
    const integrationId = route.target?.startsWith('integrations/') ? route.target.slice('integrations/'.length) : undefined;
    const compiled: CompiledRoute = {
      route,
      resourcePath: 'error' in parsed ? undefined : parsed.path,
      integration: integrationId ? integrations.get(integrationId) : undefined,
      authorizer: route.authorizerId ? authorizers.get(route.authorizerId) : undefined,
    };
    return { routeKey: route.routeKey, value: compiled };
  });
  return new RouteTable(entries);
}

export function compileApi(bundle: ApiBundle): CompiledApi {
  const stages = new Map<string, StageSpec>();
  const deployments = new Map<string, DeploymentSpec>();
  const integrations: IntegrationSpec[] = [];
  const authorizers: AuthorizerSpec[] = [];
  const routes: RouteSpec[] = [];
  for (const c of bundle.children) {
    if (c.kind === 'stage') stages.set((c.spec as StageSpec).stageName, c.spec as StageSpec);
    else if (c.kind === 'authorizer') authorizers.push(c.spec as AuthorizerSpec);
    else if (c.kind === 'route') routes.push(c.spec as RouteSpec);
    else if (c.kind === 'integration') integrations.push(c.spec as IntegrationSpec);
    else if (c.kind === 'deployment') deployments.set((c.spec as DeploymentSpec).deploymentId, c.spec as DeploymentSpec);
  }
  const live = compileRoutes(routes, integrations, authorizers);
  const stageRoutes = new Map<string, RouteTable<CompiledRoute>>();
  const deployed = new Map<string, RouteTable<CompiledRoute>>();
  for (const stage of stages.values()) {
    if (stage.autoDeploy) {
      stageRoutes.set(stage.stageName, live);
      continue;
    }
    const snap = stage.deploymentId ? deployments.get(stage.deploymentId)?.snapshot : undefined;
    if (!snap) continue;
    let table = deployed.get(stage.deploymentId!);
    if (!table) {
      table = compileRoutes(snap.routes, snap.integrations, snap.authorizers);
      deployed.set(stage.deploymentId!, table);
    }
    stageRoutes.set(stage.stageName, table);
  }
  return { api: bundle.api, stages, routes: live, stageRoutes };
}

/**
 * The data plane's routing table: every API compiled in memory, refreshed per API on change
 * events. Traffic never reads the database.
 */
export class GatewayTable {
  private readonly apis = new Map<string, CompiledApi>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly store: GatewayStore) {}

  /** Every API read from the store (at start, and again at a resync: the ones gone meanwhile are dropped). */
  async load(): Promise<void> {
    const bundles = await this.store.loadAll();
    const ids = new Set(bundles.map((b) => b.api.apiId));
    for (const b of bundles) this.apis.set(b.api.apiId, compileApi(b));
    for (const id of [...this.apis.keys()]) if (!ids.has(id)) this.apis.delete(id);
  }

  get(apiId: string): CompiledApi | undefined {
    return this.apis.get(apiId);
  }

  ids(): string[] {
    return [...this.apis.keys()];
  }

  /** Reloads one API; refreshes of the same API run one after another. */
  refresh(apiId: string): Promise<void> {
    const prev = this.pending.get(apiId) ?? Promise.resolve();
    const next = prev.then(async () => {
      const b = await this.store.loadBundle(apiId);
      if (b) this.apis.set(apiId, compileApi(b));
      else this.apis.delete(apiId);
    }).catch(() => undefined);
    this.pending.set(apiId, next);
    void next.then(() => {
      if (this.pending.get(apiId) === next) this.pending.delete(apiId);
    });
    return next;
  }

  /** Resolves once every refresh started before the call has finished. */
  async settle(): Promise<void> {
    await Promise.all([...this.pending.values()]);
  }
}
