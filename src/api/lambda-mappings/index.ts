import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../../core/errors.js';
import type { MappingService } from '../../triggers/mappings/service.js';
import { sendRestJsonError } from '../errors.js';

const BASE = '/2015-03-31/event-source-mappings';

/**
 * Lambda REST routes for event source mappings (botocore lambda 2015-03-31):
 *   POST   /2015-03-31/event-source-mappings          CreateEventSourceMapping (202)
 *   GET    /2015-03-31/event-source-mappings          ListEventSourceMappings
 *   GET    /2015-03-31/event-source-mappings/{UUID}   GetEventSourceMapping
 *   PUT    /2015-03-31/event-source-mappings/{UUID}   UpdateEventSourceMapping (202)
 *   DELETE /2015-03-31/event-source-mappings/{UUID}   DeleteEventSourceMapping (202)
 */
export function registerEventSourceMappingApi(http: FastifyInstance, service: MappingService): void {
  http.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    const body = (req: FastifyRequest): Record<string, unknown> => {
      const raw = req.body as Buffer | undefined;
      if (!raw || raw.length === 0) return {};
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        throw Errors.invalidRequestContent(`Could not parse request body into json: ${(e as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw Errors.invalidRequestContent('Request body must be a JSON object');
      return parsed as Record<string, unknown>;
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
    const uuid = (req: FastifyRequest) => (req.params as { UUID: string }).UUID;

    scope.post(BASE, handle(async (req, reply) => json(reply, 202, await service.create(body(req)))));
    scope.get(BASE, handle(async (req, reply) => json(reply, 200, await service.list(req.query as Record<string, string>))));
    scope.get(`${BASE}/:UUID`, handle(async (req, reply) => json(reply, 200, await service.get(uuid(req)))));
    scope.put(`${BASE}/:UUID`, handle(async (req, reply) => json(reply, 202, await service.update(uuid(req), body(req)))));
    scope.delete(`${BASE}/:UUID`, handle(async (req, reply) => json(reply, 202, await service.delete(uuid(req)))));
  });
}
