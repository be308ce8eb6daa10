import type { FastifyInstance } from 'fastify';
import type { EventInvokeConfigInput, EventInvokeConfigs } from '../../invoke/async/index.js';
import { restRoutes, type RestRequest } from '../rest.js';

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
  const input = (req: RestRequest) => ({ ...req.json(), FunctionName: req.params.FunctionName!, Qualifier: req.query.Qualifier }) as EventInvokeConfigInput;
  restRoutes(http, (r) => {
    r.route('PUT', PATH, 200, async (req) => configs.toWire(await configs.put(input(req))));
    r.route('POST', PATH, 200, async (req) => configs.toWire(await configs.update(input(req))));
    r.route('GET', PATH, 200, async (req) => configs.toWire(await configs.get(input(req))));
    r.route('DELETE', PATH, 204, async (req) => configs.delete(input(req)));
    r.route('GET', `${PATH}/list`, 200, async (req) => {
      const q = req.query as Record<string, string | undefined>;
      const res = await configs.list({ FunctionName: req.params.FunctionName!, Marker: q.Marker, MaxItems: q.MaxItems });
      const out: Record<string, unknown> = { FunctionEventInvokeConfigs: res.configs.map((c) => configs.toWire(c)) };
      if (res.nextMarker) out.NextMarker = res.nextMarker;
      return out;
    });
  });
}
