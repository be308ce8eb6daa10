import type { FastifyInstance } from 'fastify';
import type { ProvisionedConfigInput, ProvisionedConfigs } from '../../invoke/provisioned/index.js';
import { restRoutes, type RestRequest } from '../rest.js';

const PATH = '/2019-09-30/functions/:FunctionName/provisioned-concurrency';

/**
 * Lambda REST routes for provisioned concurrency (botocore lambda model):
 *   PUT    /2019-09-30/functions/{FunctionName}/provisioned-concurrency?Qualifier=Q   PutProvisionedConcurrencyConfig (202)
 *   GET    /2019-09-30/functions/{FunctionName}/provisioned-concurrency?Qualifier=Q   GetProvisionedConcurrencyConfig
 *   GET    /2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL      ListProvisionedConcurrencyConfigs
 *   DELETE /2019-09-30/functions/{FunctionName}/provisioned-concurrency?Qualifier=Q   DeleteProvisionedConcurrencyConfig (204)
 */
export function registerProvisionedConcurrencyApi(http: FastifyInstance, configs: ProvisionedConfigs): void {
  const input = (req: RestRequest) => ({ ...req.json(), FunctionName: req.params.FunctionName!, Qualifier: req.query.Qualifier }) as ProvisionedConfigInput;
  restRoutes(http, (r) => {
    r.route('PUT', PATH, 202, async (req) => configs.toWire(await configs.put(input(req))));
    r.route('GET', PATH, 200, async (req) => {
      const q = req.query as Record<string, string | undefined>;
      if (q.List === 'ALL') {
        const res = await configs.list({ FunctionName: req.params.FunctionName!, Marker: q.Marker, MaxItems: q.MaxItems });
        const out: Record<string, unknown> = { ProvisionedConcurrencyConfigs: res.configs.map((c) => configs.toWire(c, true)) };
        if (res.nextMarker) out.NextMarker = res.nextMarker;
        return out;
      }
      return configs.toWire(await configs.get(input(req)));
    });
    r.route('DELETE', PATH, 204, async (req) => configs.delete(input(req)));
  });
}
