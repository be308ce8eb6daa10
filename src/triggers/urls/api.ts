import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendRestJsonError } from '../../api/errors.js';
import type { UrlService } from './service.js';

type Input = Record<string, unknown>;

/** Lambda's function URL configuration operations (REST paths of the 2021-10-31 API version). */
export function registerFunctionUrlApi(http: FastifyInstance, service: UrlService): void {
  const op = (status: number, fn: (name: string, query: Input, body: Input) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const name = (req.params as { FunctionName: string }).FunctionName;
        const body = req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body) ? (req.body as Input) : {};
        const out = await fn(name, (req.query ?? {}) as Input, body);
        if (status === 204) return reply.code(204).send();
        reply.header('content-type', 'application/json');
        return reply.code(status).send(JSON.stringify(out));
      } catch (err) {
        return sendRestJsonError(reply, err);
      }
    };
  const one = '/2021-10-31/functions/:FunctionName/url';
  http.post(one, op(201, (n, q, b) => service.create(n, q.Qualifier, b)));
  http.get(one, op(200, (n, q) => service.get(n, q.Qualifier)));
  http.put(one, op(200, (n, q, b) => service.update(n, q.Qualifier, b)));
  http.delete(one, op(204, (n, q) => service.delete(n, q.Qualifier)));
  http.get('/2021-10-31/functions/:FunctionName/urls', op(200, (n, q) => service.list(n, q.Marker, q.MaxItems)));
}
