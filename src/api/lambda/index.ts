import type { FastifyInstance } from 'fastify';
import { functionArn } from '../../core/arn.js';
import { clientBaseUrl } from '../../core/base-url.js';
import { Errors, StratusError } from '../../core/errors.js';
import { LATEST, type Locale } from '../../core/model.js';
import { rules, Violations } from '../../core/validation.js';
import type { ControlPlane } from '../../control/index.js';
import type { Invoker, InvokeRequest } from '../../invoke/index.js';
import { writeRestJsonError } from '../errors.js';
import { claimTraffic } from '../raw.js';
import { restRoutes, RestResponse } from '../rest.js';
import { invokeRequestOf, readInvokeWire, type InvokeWire } from './invoke-wire.js';
import { signedDownload } from './download.js';
import { registerLayerRoutes } from './layers.js';
import { registerStreamInvoke } from './stream-invoke.js';
import { accountSettings, aliasConfiguration, asAccepted, functionConfiguration, listedConfiguration } from './wire.js';

export interface LambdaApiDeps {
  control: ControlPlane;
  invoker: Invoker;
  /** http://host:port this server listens at (Code.Location when a request names no Host). */
  baseUrl(): string;
  locale: Locale;
}

/**
 * Lambda's limits on a direct upload request: UpdateFunctionCode's is the base64 of a 50 MB zip
 * (ceil(52428800 * 4 / 3)); CreateFunction's (and PublishLayerVersion's here) leaves 256 KB more
 * for the rest of the request.
 */
const CODE_REQUEST_LIMIT = 70_167_211;
const UPDATE_CODE_REQUEST_LIMIT = 69_905_067;

const tooLarge = (op: string, limit: number) => () =>
  new StratusError('RequestEntityTooLargeException', 413, `Request must be smaller than ${limit} bytes for the ${op} operation`);

const F = '/2015-03-31/functions';

/**
 * The Lambda REST API (2015-03-31 family) as botocore's model defines it: functions, code,
 * configuration, invoke, versions, aliases, reserved concurrency, account settings, tags, and
 * the download URL GetFunction hands out. Parses the wire, calls the control plane or the one
 * invoker, and maps records back to Lambda's shapes.
 */
export function registerLambdaApi(http: FastifyInstance, deps: LambdaApiDeps): void {
  const { control, locale } = deps;
  const cfg = (v: Parameters<typeof functionConfiguration>[0]) => functionConfiguration(v, locale);
  const listed = (v: Parameters<typeof listedConfiguration>[0]) => listedConfiguration(v, locale);
  registerRawInvoke(http, deps);
  registerStreamInvoke(http, deps);

  restRoutes(http, (r) => {
    // Functions
    r.route('POST', F, 201, async (req) => asAccepted(cfg(await control.functions.create(req.json())), 'create'), {
      bodyLimit: CODE_REQUEST_LIMIT, tooLarge: tooLarge('CreateFunction', CODE_REQUEST_LIMIT),
    });
    r.route('GET', F, 200, async (req) => {
      const page = await control.functions.list(req.query);
      return withMarker({ Functions: page.items.map(listed) }, page.nextMarker);
    });
    r.route('GET', `${F}/:FunctionName`, 200, async (req) => {
      const view = await control.functions.get(req.input());
      const { fn, version } = view;
      const out: Record<string, unknown> = {
        Configuration: cfg(view),
        Code: {
          RepositoryType: 'S3',
          Location: `${clientBaseUrl(req.headers.host, deps.baseUrl)}/_stratus/code/${encodeURIComponent(fn.name)}/${encodeURIComponent(version.version)}?${control.code.signLocation(fn.name, version.version, Date.now())}`,
        },
      };
      if (Object.keys(fn.tags).length) out.Tags = { ...fn.tags };
      if (fn.reservedConcurrency !== null) out.Concurrency = { ReservedConcurrentExecutions: fn.reservedConcurrency };
      return out;
    });
    r.route('GET', `${F}/:FunctionName/configuration`, 200, async (req) => cfg(await control.functions.get(req.input())));
    r.route('PUT', `${F}/:FunctionName/code`, 200, async (req) => {
      const input = req.input();
      const view = await control.functions.updateCode(input);
      // A dry run changes nothing; a published version's configuration is that version's.
      return input.DryRun === true || view.version.version !== LATEST ? cfg(view) : asAccepted(cfg(view), 'update');
    }, {
      bodyLimit: UPDATE_CODE_REQUEST_LIMIT, tooLarge: tooLarge('UpdateFunctionCode', UPDATE_CODE_REQUEST_LIMIT),
    });
    r.route('PUT', `${F}/:FunctionName/configuration`, 200, async (req) => asAccepted(cfg(await control.functions.updateConfig(req.input())), 'update'));
    r.route('DELETE', `${F}/:FunctionName`, 204, async (req) => control.functions.delete(req.input()));

    // Invoke is a raw route (below), ahead of Fastify's routing and reply machinery.
    // InvokeAsync (deprecated, still in the model): an Event invocation answering {Status: 202}.
    r.route('POST', '/2014-11-13/functions/:FunctionName/invoke-async', 202, async (req) => {
      // InvokeAsync keeps its own, older limit: "The payload limit is 256KB. For larger payloads, for up to 1MB, use Invoke."
      if (req.raw.length > INVOKE_ASYNC_PAYLOAD_LIMIT) {
        throw new StratusError('RequestEntityTooLargeException', 413,
          `${req.raw.length} byte payload is too large for the Event invocation type (limit ${INVOKE_ASYNC_PAYLOAD_LIMIT} bytes)`);
      }
      const res = await deps.invoker.invoke({ functionName: req.params.FunctionName!, payload: req.raw, invocationType: 'Event', source: 'api' });
      return new RestResponse(202, JSON.stringify({ Status: 202 }), { 'content-type': 'application/json', 'x-amzn-RequestId': res.requestId });
    });

    // Versions
    r.route('POST', `${F}/:FunctionName/versions`, 201, async (req) => cfg(await control.versions.publish(req.input())));
    r.route('GET', `${F}/:FunctionName/versions`, 200, async (req) => {
      const page = await control.versions.list(req.input());
      return withMarker({ Versions: page.items.map(listed) }, page.nextMarker);
    });

    // Aliases
    const alias = (a: Parameters<typeof aliasConfiguration>[0]) => aliasConfiguration(a, locale);
    r.route('POST', `${F}/:FunctionName/aliases`, 201, async (req) => alias(await control.aliases.create(req.input())));
    r.route('GET', `${F}/:FunctionName/aliases`, 200, async (req) => {
      const page = await control.aliases.list(req.input());
      return withMarker({ Aliases: page.items.map(alias) }, page.nextMarker);
    });
    r.route('GET', `${F}/:FunctionName/aliases/:Name`, 200, async (req) => alias(await control.aliases.get(req.input())));
    r.route('PUT', `${F}/:FunctionName/aliases/:Name`, 200, async (req) => alias(await control.aliases.update(req.input())));
    r.route('DELETE', `${F}/:FunctionName/aliases/:Name`, 204, async (req) => control.aliases.delete(req.input()));

    // Settings Stratus has only one value of, read as Lambda answers for a function that never
    // set them (infrastructure tools read them with every function: Terraform the code signing
    // config). Stratus verifies no code signatures, and its runtimes have one version each.
    r.route('GET', '/2020-06-30/functions/:FunctionName/code-signing-config', 200, async (req) => {
      const { version } = await control.functions.get({ FunctionName: req.params.FunctionName });
      return { CodeSigningConfigArn: '', FunctionName: version.functionName };
    });
    /** A function's (or version's) runtime management config: Auto, always. */
    const autoRuntime = async (input: Record<string, unknown>) => {
      const { version, arnQualifier } = await control.functions.get(input);
      return { UpdateRuntimeOn: 'Auto', FunctionArn: functionArn(locale, version.functionName, arnQualifier) };
    };
    r.route('GET', '/2021-07-20/functions/:FunctionName/runtime-management-config', 200, async (req) => autoRuntime(req.input()));
    // Auto, what it already is, is accepted as a no-op (Terraform's runtime management config
    // resource sets it); the other modes pin runtime versions Stratus does not have.
    r.route('PUT', '/2021-07-20/functions/:FunctionName/runtime-management-config', 200, async (req) => {
      const input = req.input();
      const mode = input.UpdateRuntimeOn;
      const v = new Violations();
      if (mode === undefined || mode === null) v.add(null, 'updateRuntimeOn', rules.notNull);
      else if (!UPDATE_RUNTIME_ON.includes(mode as string)) v.add(mode, 'updateRuntimeOn', rules.enumOf(UPDATE_RUNTIME_ON));
      v.throwIfAny();
      const config = await autoRuntime(input);
      if (mode !== 'Auto') {
        throw Errors.invalidParameter(`Stratus runs one version of each runtime, the one it ships: UpdateRuntimeOn ${String(mode)} is not supported.`);
      }
      return config;
    });

    // Resource-based policy of a function, version or alias (Qualifier).
    r.route('POST', `${F}/:FunctionName/policy`, 201, async (req) => ({ Statement: (await control.policies.add(req.input())).statement }));
    r.route('GET', `${F}/:FunctionName/policy`, 200, async (req) => {
      const { policy, revisionId } = await control.policies.get(req.input());
      return { Policy: policy, RevisionId: revisionId };
    });
    r.route('DELETE', `${F}/:FunctionName/policy/:StatementId`, 204, async (req) => control.policies.remove(req.input()));

    // Reserved concurrency
    r.route('PUT', '/2017-10-31/functions/:FunctionName/concurrency', 200, async (req) => ({
      ReservedConcurrentExecutions: await control.concurrency.put(req.input()),
    }));
    r.route('GET', '/2019-09-30/functions/:FunctionName/concurrency', 200, async (req) => {
      const n = await control.concurrency.get(req.input());
      return n === null ? {} : { ReservedConcurrentExecutions: n };
    });
    r.route('DELETE', '/2017-10-31/functions/:FunctionName/concurrency', 204, async (req) => control.concurrency.delete(req.input()));

    // Recursive loop detection
    r.route('GET', '/2024-08-31/functions/:FunctionName/recursion-config', 200, async (req) => control.recursion.get(req.input()));
    r.route('PUT', '/2024-08-31/functions/:FunctionName/recursion-config', 200, async (req) => control.recursion.put(req.input()));

    // Account
    r.route('GET', '/2016-08-19/account-settings', 200, async () => accountSettings(await control.account.settings()));

    // Tags
    r.route('POST', '/2017-03-31/tags/:Resource', 204, async (req) => control.tags.tag(req.input()));
    r.route('DELETE', '/2017-03-31/tags/:Resource', 204, async (req) => control.tags.untag({ Resource: req.params.Resource, TagKeys: req.query.tagKeys }));
    r.route('GET', '/2017-03-31/tags/:Resource', 200, async (req) => ({ Tags: await control.tags.list(req.input()) }));

    // Layers
    registerLayerRoutes(r, control, deps.baseUrl, { bodyLimit: CODE_REQUEST_LIMIT, tooLarge: tooLarge('PublishLayerVersion', CODE_REQUEST_LIMIT) });

    // Code download (GetFunction's Code.Location): signed, expires like a presigned URL.
    r.route('GET', '/_stratus/code/:FunctionName/:Version', 200, async (req) => {
      const { FunctionName: name, Version: version } = req.params as { FunctionName: string; Version: string };
      return signedDownload(control.code, { name, version }, req.query, async () => {
        const view = await control.functions.get({ FunctionName: name, Qualifier: version === LATEST ? undefined : version });
        return control.code.read(view.version.codeKey);
      }, 'The code of this version is gone');
    });
  });
}

const UPDATE_RUNTIME_ON = ['Auto', 'Manual', 'FunctionUpdate'];

/** InvokeAsync's payload limit (256 KB), below Invoke's 1 MB for InvocationType Event. */
const INVOKE_ASYNC_PAYLOAD_LIMIT = 256 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/?]+)\/invocations\/?(?:\?(.*))?$/;

/**
 * Invoke on node's request and response: the hottest route, so it skips Fastify's body parsing,
 * handler and reply pipeline (about a tenth of a millisecond per request here). Same wire
 * behaviour as the REST routes: body limit, error shape, request id.
 */
function registerRawInvoke(http: FastifyInstance, deps: LambdaApiDeps): void {
  claimTraffic(http, (req) => req.method === 'POST' && INVOKE_PATH.test(req.url ?? ''), async (req, res) => {
    try {
      const out = await invoke(deps, await readInvokeWire(req, INVOKE_PATH, 'InvokeFunction'));
      const payload = out.body === undefined ? undefined : typeof out.body === 'string' ? Buffer.from(out.body) : out.body;
      res.writeHead(out.status, { ...out.headers, 'content-length': String(payload?.length ?? 0) });
      res.end(payload);
    } catch (err) {
      writeRestJsonError(res, err);
    }
  });
}

function withMarker(body: Record<string, unknown>, marker: string | undefined): Record<string, unknown> {
  if (marker !== undefined) body.NextMarker = marker;
  return body;
}

async function invoke(deps: LambdaApiDeps, req: InvokeWire): Promise<RestResponse> {
  const res = await deps.invoker.invoke(invokeRequestOf(req));
  const headers: Record<string, string> = { 'x-amzn-RequestId': res.requestId };
  if (res.statusCode !== 200) return new RestResponse(res.statusCode, undefined, headers);
  headers['content-type'] = 'application/json';
  headers['X-Amz-Executed-Version'] = res.executedVersion;
  if (res.functionError) headers['X-Amz-Function-Error'] = res.functionError;
  if (res.logResult !== undefined) headers['X-Amz-Log-Result'] = res.logResult;
  return new RestResponse(200, res.payload, headers);
}

