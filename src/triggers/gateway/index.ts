import { registerApiGatewayV2 } from '../../api/apigatewayv2/index.js';
import type { StratusModule } from '../../app/module.js';
import { JwtVerifier, LambdaAuthorizers } from './authorizers.js';
import { claimTraffic } from './http-io.js';
import { isGatewayRequest, serveGateway, type GatewayDeps } from './serve.js';
import { CHANGE_TYPE, GatewayService } from './service.js';
import { GatewayStore } from './store.js';
import { GatewayTable } from './table.js';

export { GatewayService, GatewayErrors, integrationFunction, CHANGE_TYPE as GATEWAY_CHANGE_TYPE } from './service.js';
export { GatewayStore } from './store.js';
export { GatewayTable, compileApi } from './table.js';
export { serveGateway, isGatewayRequest, invokeWithTimeout, GatewayResponses, GATEWAY_MAX_BODY } from './serve.js';
export { claimTraffic, readBody, whenDrained, sendResponse, requestInfo, hostName, domainOf, splitUrl } from './http-io.js';
export type * from './types.js';

/** http://API_ID.execute-api.localhost:PORT, from the server's base URL. */
export function apiEndpoint(baseUrl: string, apiId: string): string {
  const port = /:(\d+)$/.exec(baseUrl)?.[1];
  return `http://${apiId}.execute-api.localhost${port ? `:${port}` : ''}`;
}

/**
 * HTTP APIs (API Gateway v2 compatible): management REST paths under /v2/apis, and traffic at
 * http://API_ID.execute-api.localhost:PORT/STAGE/path or http://HOST:PORT/_apis/API_ID/STAGE/path.
 * Every request becomes an invoke request (source 'gateway') handed to the one invoker.
 */
export function gatewayModule(): StratusModule {
  let unsubscribe: (() => void) | undefined;
  return {
    name: 'gateway',
    async init(ctx) {
      const store = new GatewayStore(ctx.sql);
      const table = new GatewayTable(store);
      await table.load();
      const lambdaAuth = new LambdaAuthorizers({ invoker: ctx.invoker, clock: ctx.clock });
      const service = new GatewayService({
        store,
        changes: ctx.changes,
        clock: ctx.clock,
        locale: ctx.locale,
        endpointFor: (apiId) => apiEndpoint(ctx.baseUrl(), apiId),
        onChanged: (apiId) => table.refresh(apiId),
        resetAuthorizersCache: (apiId, stageName) => lambdaAuth.reset(`${apiId}/${stageName}`),
      });
      unsubscribe = ctx.changes.subscribe((e) => {
        if (e.kind === 'resource' && e.type === CHANGE_TYPE) void table.refresh(e.id);
        else if (e.kind === 'resync') void table.load().catch(() => undefined);
      });
      const deps: GatewayDeps = {
        table,
        invoker: ctx.invoker,
        jwt: new JwtVerifier(),
        lambdaAuth,
        clock: ctx.clock,
        locale: ctx.locale,
      };
      claimTraffic(ctx.http, isGatewayRequest, (req, res) => serveGateway(deps, req, res));
      registerApiGatewayV2(ctx.http, service);
    },
    stop() {
      unsubscribe?.();
    },
  };
}
