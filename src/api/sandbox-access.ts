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
 * Decides for one request from inside an environment. `target` is X-Amz-Target. Requests without
 * a target outside the management paths (HTTP API and function URL traffic, SQS query-protocol
 * posts to queue URLs) are user traffic and pass.
 */
export function sandboxMayCall(method: string, path: string, target: string | undefined): SandboxDecision {
  if (target) {
    return OPEN_TARGETS.some((re) => re.test(target)) ? { allow: true } : { allow: false, action: target };
  }
  if (MANAGEMENT_PATH.test(path)) {
    return method === 'POST' && INVOKE_PATH.test(path) ? { allow: true } : { allow: false, action: `${method} ${path}` };
  }
  // Everything else is user traffic (HTTP APIs, function URLs) or unknown paths (answered 404).
  return { allow: true };
}
