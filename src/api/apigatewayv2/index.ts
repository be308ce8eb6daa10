import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendRestJsonError } from '../errors.js';
import type { GatewayService } from '../../triggers/gateway/service.js';
import type { ChildKind } from '../../triggers/gateway/types.js';

type Input = Record<string, unknown>;
type Params = Record<string, string>;

/**
 * API Gateway v2 management (REST-JSON, camelCase fields, paths from botocore's apigatewayv2
 * model) for HTTP APIs: apis, routes, integrations, stages, deployments, authorizers, CORS configuration, tags.
 */
export function registerApiGatewayV2(http: FastifyInstance, service: GatewayService): void {
  const op = (status: number, fn: (params: Params, body: Input, query: Input) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const body = req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body) ? (req.body as Input) : {};
        const out = await fn(req.params as Params, body, (req.query ?? {}) as Input);
        if (status === 204) return reply.code(204).send();
        reply.header('content-type', 'application/json');
        return reply.code(status).send(JSON.stringify(out ?? {}));
      } catch (err) {
        return sendRestJsonError(reply, err);
      }
    };

  http.post('/v2/apis', op(201, (_p, b) => service.createApi(b)));
  http.get('/v2/apis', op(200, (_p, _b, q) => service.getApis(q)));
  http.get('/v2/apis/:apiId', op(200, (p) => service.getApi(p.apiId!)));
  http.patch('/v2/apis/:apiId', op(200, (p, b) => service.updateApi(p.apiId!, b)));
  http.delete('/v2/apis/:apiId', op(204, (p) => service.deleteApi(p.apiId!)));
  http.delete('/v2/apis/:apiId/cors', op(204, (p) => service.deleteCorsConfiguration(p.apiId!)));
  http.delete('/v2/apis/:apiId/stages/:stageName/cache/authorizers', op(204, (p) => service.resetAuthorizersCache(p.apiId!, p.stageName!)));

  // The ARN arrives URL-encoded as one path segment (its slashes as %2F); the router decodes it.
  http.post('/v2/tags/:resourceArn', op(201, (p, b) => service.tagResource(p.resourceArn!, b)));
  http.get('/v2/tags/:resourceArn', op(200, (p) => service.getTags(p.resourceArn!)));
  http.delete('/v2/tags/:resourceArn', op(204, (p, _b, q) => service.untagResource(p.resourceArn!, q)));

  const children: Array<{ path: string; param: string; kind: ChildKind; create: (api: string, b: Input) => Promise<unknown>; update: (api: string, id: string, b: Input) => Promise<unknown> }> = [
    { path: 'routes', param: 'routeId', kind: 'route', create: (a, b) => service.createRoute(a, b), update: (a, id, b) => service.updateRoute(a, id, b) },
    { path: 'integrations', param: 'integrationId', kind: 'integration', create: (a, b) => service.createIntegration(a, b), update: (a, id, b) => service.updateIntegration(a, id, b) },
    { path: 'stages', param: 'stageName', kind: 'stage', create: (a, b) => service.createStage(a, b), update: (a, id, b) => service.updateStage(a, id, b) },
    { path: 'authorizers', param: 'authorizerId', kind: 'authorizer', create: (a, b) => service.createAuthorizer(a, b), update: (a, id, b) => service.updateAuthorizer(a, id, b) },
    { path: 'deployments', param: 'deploymentId', kind: 'deployment', create: (a, b) => service.createDeployment(a, b), update: (a, id, b) => service.updateDeployment(a, id, b) },
  ];
  for (const c of children) {
    const base = `/v2/apis/:apiId/${c.path}`;
    const one = `${base}/:${c.param}`;
    http.post(base, op(201, (p, b) => c.create(p.apiId!, b)));
    http.get(base, op(200, (p, _b, q) => service.listChildren(p.apiId!, c.kind, q)));
    http.get(one, op(200, (p) => service.getChild(p.apiId!, c.kind, p[c.param]!)));
    http.patch(one, op(200, (p, b) => c.update(p.apiId!, p[c.param]!, b)));
    http.delete(one, op(204, (p) => service.deleteChild(p.apiId!, c.kind, p[c.param]!)));
  }
}
