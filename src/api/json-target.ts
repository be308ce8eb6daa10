import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * AWS JSON protocol services all POST to "/" and name the operation in X-Amz-Target
 * ("Logs_20140328.GetLogEvents", "AmazonSQS.SendMessage", "AWSEvents.PutRule", ...).
 * Each service registers its target prefix here; the server dispatches by prefix.
 */
export type JsonTargetHandler = (
  operation: string,
  input: Record<string, unknown>,
  req: FastifyRequest,
  reply: FastifyReply,
) => Promise<unknown>;

export interface JsonTargetService {
  /** The part of X-Amz-Target before the dot. */
  prefix: string;
  /** Response content type: application/x-amz-json-1.1 or -1.0. */
  contentType: string;
  handle: JsonTargetHandler;
}

/**
 * A service on the AWS query protocol: form-encoded `Action=...` POSTs (no X-Amz-Target) to "/"
 * or to a resource's path (SQS's queue URLs).
 */
export type QueryHandler = (
  params: URLSearchParams, req: FastifyRequest, reply: FastifyReply,
  /** Rejects with the refusal of an action the caller may not call (the sandbox's guard). */
  admit?: (action: string) => Promise<void>,
) => Promise<FastifyReply>;

export class JsonTargetRouter {
  private readonly services = new Map<string, JsonTargetService>();
  /** The one service served on the query protocol (SQS), if any. */
  query: QueryHandler | undefined;

  add(service: JsonTargetService): void {
    this.services.set(service.prefix, service);
  }

  find(target: string | undefined): { service: JsonTargetService; operation: string } | undefined {
    if (!target) return undefined;
    const dot = target.lastIndexOf('.');
    if (dot < 0) return undefined;
    const service = this.services.get(target.slice(0, dot));
    return service ? { service, operation: target.slice(dot + 1) } : undefined;
  }
}
