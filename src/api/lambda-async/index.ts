import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../../core/errors.js';
import type { EventInvokeConfigs } from '../../invoke/async/index.js';
import { sendRestJsonError } from '../errors.js';

const PATH = '/2019-09-25/functions/:FunctionName/event-invoke-config';

/**
 * Lambda REST routes for asynchronous invocation settings (botocore lambda model):
 *   PUT    /2019-09-25/functions/{FunctionName}/event-invoke-config   PutFunctionEventInvokeConfig
 *   POST   /2019-09-25/functions/{FunctionName}/event-invoke-config   UpdateFunctionEventInvokeConfig
 *   GET    /2019-09-25/functions/{FunctionName}/event-invoke-config   GetFunctionEventInvokeConfig
 *   DELETE /2019-09-25/functions/{FunctionName}/event-invoke-config   DeleteFunctionEventInvokeConfig (204)
 *   GET    /2019-09-25/functions/{FunctionName}/event-invoke-config/list   ListFunctionEventInvokeConfigs
 */
export function registerEventInvokeConfigApi(http: FastifyInstance, configs: EventInvokeConfigs): void {
  http.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    const input = (req: FastifyRequest) => {
      const params = req.params as { FunctionName: string };
      const query = req.query as Record<string, string | undefined>;
      const raw = req.body as Buffer | undefined;
      let body: Record<string, unknown> = {};
      if (raw && raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch (e) {
          throw Errors.invalidRequestContent(`Could not parse request body into json: ${(e as Error).message}`);
        }
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw Errors.invalidRequestContent('Request body must be a JSON object');
      }
      return { ...body, FunctionName: params.FunctionName, Qualifier: query.Qualifier };
    };
    const json = (reply: FastifyReply, status: number, out: unknown) =>
      reply.code(status).header('content-type', 'application/json').send(JSON.stringify(out));
    const handle = (fn: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
      async (req: FastifyRequest, reply: FastifyReply) => {
        try {
          return await fn(req, reply);
        } catch (err) {
          return sendRestJsonError(reply, err);
        }
      };

    scope.put(PATH, handle(async (req, reply) => json(reply, 200, configs.toWire(await configs.put(input(req))))));
    scope.post(PATH, handle(async (req, reply) => json(reply, 200, configs.toWire(await configs.update(input(req))))));
    scope.get(PATH, handle(async (req, reply) => json(reply, 200, configs.toWire(await configs.get(input(req))))));
    scope.delete(PATH, handle(async (req, reply) => {
      await configs.delete(input(req));
      return reply.code(204).send();
    }));
    scope.get(`${PATH}/list`, handle(async (req, reply) => {
      const params = req.params as { FunctionName: string };
      const query = req.query as Record<string, string | undefined>;
      const res = await configs.list({ FunctionName: params.FunctionName, Marker: query.Marker, MaxItems: query.MaxItems });
      const out: Record<string, unknown> = { FunctionEventInvokeConfigs: res.configs.map((c) => configs.toWire(c)) };
      if (res.nextMarker) out.NextMarker = res.nextMarker;
      return json(reply, 200, out);
    }));
  });
}
