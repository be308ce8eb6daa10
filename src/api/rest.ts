import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors, StratusError } from '../core/errors.js';
import { sendRestJsonError, withRequestId } from './errors.js';

export type Input = Record<string, unknown>;

/** One REST-JSON request as a handler sees it: path and query parameters, headers, the body. */
export interface RestRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  headers: FastifyRequest['headers'];
  /** The raw body bytes (empty when none). */
  raw: Buffer;
  /** The body parsed as a JSON object ({} when empty); InvalidRequestContentException otherwise. */
  json(): Input;
  /** Path, query and body merged into one wire-shaped input (body fields win over nothing: paths and query are added). */
  input(): Input;
  fastify: FastifyRequest;
}

/** What a handler returns: a JSON body (status from the route), or a full response. */
export type RestResult = unknown | RestResponse;

export class RestResponse {
  constructor(
    readonly status: number,
    readonly body: Buffer | string | undefined,
    readonly headers: Record<string, string> = {},
  ) {}
}

export interface RouteOptions {
  /** Largest body the route reads; past it the client gets `tooLarge` (413). */
  bodyLimit?: number;
  tooLarge?: () => StratusError;
}

type Handler = (req: RestRequest) => Promise<RestResult>;

export interface RestRouter {
  route(method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH', path: string, status: number, handler: Handler, opts?: RouteOptions): void;
}

/**
 * Registers REST-JSON routes (Lambda's style: JSON bodies of any declared content type, errors
 * as x-amzn-ErrorType + {Type, message}) in their own Fastify scope, which reads every body as
 * bytes so that each route decides how to parse it.
 */
export function restRoutes(http: FastifyInstance, register: (router: RestRouter) => void): void {
  http.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: { code?: string }, req, reply) => {
      const cfg = (req.routeOptions?.config ?? {}) as { tooLarge?: () => StratusError };
      if (err && err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && cfg.tooLarge) return sendRestJsonError(reply, cfg.tooLarge());
      return sendRestJsonError(reply, err);
    });
    const router: RestRouter = {
      route(method, path, status, handler, opts = {}) {
        scope.route({
          method,
          url: path,
          ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
          config: { tooLarge: opts.tooLarge },
          handler: async (req, reply) => {
            try {
              const out = await handler(restRequest(req));
              if (out instanceof RestResponse) {
                for (const [k, v] of Object.entries(out.headers)) reply.header(k, v);
                withRequestId(reply);
                return reply.code(out.status).send(out.body ?? '');
              }
              withRequestId(reply);
              if (status === 204) return reply.code(204).send();
              return reply.code(status).header('content-type', 'application/json').send(JSON.stringify(out ?? {}));
            } catch (err) {
              return sendRestJsonError(reply, err);
            }
          },
        });
      },
    };
    register(router);
  });
}


/** Content types a JSON body may be declared as (SDKs, the AWS CLI, curl with -H). */
const JSON_TYPES = /^(application\/(json|x-amz-json-1\.[01]|octet-stream|[a-z.+-]*\+json)|binary\/octet-stream|text\/(plain|json))$/;

function restRequest(req: FastifyRequest): RestRequest {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  let parsed: Input | undefined;
  const json = (): Input => {
    if (parsed) return parsed;
    if (raw.length === 0) return (parsed = {});
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type && !JSON_TYPES.test(type)) {
      throw Errors.unsupportedMediaType(`The content type '${type}' is not supported for this operation: send the request body as application/json.`);
    }
    let v: unknown;
    try {
      v = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw Errors.invalidRequestContent(`Could not parse request body into json: ${(e as Error).message}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw Errors.invalidRequestContent('Could not parse request body into json: the body must be a JSON object');
    return (parsed = v as Input);
  };
  const params = (req.params ?? {}) as Record<string, string>;
  const query = (req.query ?? {}) as Record<string, unknown>;
  return {
    params,
    query,
    headers: req.headers,
    raw,
    json,
    input: () => ({ ...json(), ...query, ...params }),
    fastify: req,
  };
}
