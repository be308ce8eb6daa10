import type { FastifyInstance } from 'fastify';
import type { MappingService } from '../../triggers/mappings/service.js';
import { restRoutes } from '../rest.js';

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
  restRoutes(http, (r) => {
    r.route('POST', BASE, 202, (req) => service.create(req.json()));
    r.route('GET', BASE, 200, (req) => service.list(req.query as Record<string, string>));
    r.route('GET', `${BASE}/:UUID`, 200, (req) => service.get(req.params.UUID!));
    r.route('PUT', `${BASE}/:UUID`, 202, (req) => service.update(req.params.UUID!, req.json()));
    r.route('DELETE', `${BASE}/:UUID`, 202, (req) => service.delete(req.params.UUID!));
  });
}
