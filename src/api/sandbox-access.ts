/**
 * What code running inside an execution environment may ask of Stratus's own APIs. Stratus has
 * no IAM: without this, any function could read every other function's configuration (its
 * environment variables, often secrets), download its code or delete it, by calling the API on
 * loopback. Functions keep what Lambda functions do with the services around them: invoke
 * functions, use queues, put events, write logs, and call HTTP APIs and function URLs. Reading or
 * changing functions, their code, configuration, other resources' setup, or reading logs is
 * refused (AccessDeniedException), unless the server is configured with sandboxApiAccess 'full'.
 */

/** JSON-protocol operations (X-Amz-Target) open to functions. */
const OPEN_TARGETS = [
  /^AmazonSQS\.(SendMessage|SendMessageBatch|ReceiveMessage|DeleteMessage|DeleteMessageBatch|ChangeMessageVisibility|ChangeMessageVisibilityBatch|GetQueueUrl|GetQueueAttributes|ListQueues|PurgeQueue)$/,
  /^AWSEvents\.PutEvents$/,
  /^Logs_20140328\.(PutLogEvents|CreateLogStream|CreateLogGroup)$/,
];

/** REST paths of Stratus's management APIs (Lambda's dated paths, API Gateway v2, Stratus's own). */
const MANAGEMENT_PATH = /^\/(\d{4}-\d{2}-\d{2}|v2|_stratus)(\/|$)/;
const INVOKE_PATH = /^\/(2015-03-31\/functions\/[^/]+\/invocations|2014-11-13\/functions\/[^/]+\/invoke-async|2021-11-15\/functions\/[^/]+\/response-streaming-invocations)\/?$/;

export type SandboxDecision = { allow: true } | { allow: false; action: string };

/**
 * Decides for one request from inside an environment, on what the server will do with it:
 * `route` is the route the router matched (its pattern, e.g. /2015-03-31/functions/:FunctionName,
 * undefined when none did: the answer is a 404), `target` is X-Amz-Target. Both must be open:
 * - an X-Amz-Target names an operation functions may call, whatever the path (the AWS JSON
 *   dispatcher takes any POST path no other route claims, as the SQS SDK posts to queue URLs);
 * - a management route is one of the invoke operations, whatever the header (REST routes never
 *   read it: a header naming an open operation once opened every management route).
 * The matched route, not the request's own path: the router decodes percent-escapes and accepts
 * an absolute-form target (`GET http://host/2015-03-31/...`), which a test on the raw path did not
 * see. Requests matching no management route (HTTP API and function URL traffic, SQS
 * query-protocol posts to queue URLs) are user traffic and pass.
 */
export function sandboxMayCall(method: string, route: string | undefined, target: string | undefined): SandboxDecision {
  if (target && !OPEN_TARGETS.some((re) => re.test(target))) return { allow: false, action: target };
  if (route !== undefined && MANAGEMENT_PATH.test(route) && !(method === 'POST' && INVOKE_PATH.test(route))) {
    return { allow: false, action: `${method} ${route}` };
  }
  return { allow: true };
}
