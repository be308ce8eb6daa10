import type { FastifyReply, FastifyRequest } from 'fastify';
import { sqsError } from '../../core/sqs-errors.js';
import { toStratusError } from '../errors.js';
import type { JsonTargetService } from '../json-target.js';
import type { SqsService } from '../../triggers/sqs/service.js';

export const SQS_CONTENT_TYPE = 'application/x-amz-json-1.0';

/**
 * SQS errors on the JSON protocol: `__type` is `com.amazonaws.sqs#<Name>`, and the
 * `x-amzn-query-error` header carries the query-protocol code (`AWS.SimpleQueueService.
 * NonExistentQueue;Sender`) that query-compatible SDKs map errors by.
 */
export function sendSqsError(reply: FastifyReply, err: unknown): FastifyReply {
  const e = toStratusError(err);
  const query = typeof e.extra.queryErrorCode === 'string' ? e.extra.queryErrorCode : `${e.code};${e.status >= 500 ? 'Receiver' : 'Sender'}`;
  reply.header('x-amzn-query-error', query);
  reply.header('content-type', SQS_CONTENT_TYPE);
  return reply.code(e.status).send(Buffer.from(JSON.stringify({ __type: `com.amazonaws.sqs#${e.code}`, message: e.message })));
}

/** One SQS operation: its input in the JSON protocol's shape, its output likewise. */
export type SqsOperation = (input: Record<string, unknown>, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** The SQS operations, per botocore's sqs 2012-11-05 model, whichever protocol carries them. */
export function sqsOperations(service: SqsService): Record<string, SqsOperation> {
  const host = (req: FastifyRequest) => req.headers.host;
  // X-Amzn-Trace-Id: the trace header of the messages sent (their AWSTraceHeader), as SQS takes it.
  const traceOf = (req: FastifyRequest) => {
    const t = req.headers['x-amzn-trace-id'];
    return typeof t === 'string' && t !== '' ? t : undefined;
  };
  return {
    CreateQueue: (i, r) => service.createQueue(i, host(r)),
    GetQueueUrl: (i, r) => service.getQueueUrl(i, host(r)),
    ListQueues: (i, r) => service.listQueues(i, host(r)),
    DeleteQueue: (i) => service.deleteQueue(i),
    GetQueueAttributes: (i) => service.getQueueAttributes(i),
    SetQueueAttributes: (i) => service.setQueueAttributes(i),
    PurgeQueue: (i) => service.purgeQueue(i),
    TagQueue: (i) => service.tagQueue(i),
    UntagQueue: (i) => service.untagQueue(i),
    ListQueueTags: (i) => service.listQueueTags(i),
    ListDeadLetterSourceQueues: (i, r) => service.listDeadLetterSourceQueues(i, host(r)),
    SendMessage: (i, r) => service.sendMessage(i, traceOf(r)),
    SendMessageBatch: (i, r) => service.sendMessageBatch(i, traceOf(r)),
    ReceiveMessage: (i, _r, reply) => {
      // A long poll ends when its client goes away, so no message is hidden for nobody.
      const abort = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      return service.receiveMessage(i, abort.signal);
    },
    DeleteMessage: (i) => service.deleteMessage(i),
    DeleteMessageBatch: (i) => service.deleteMessageBatch(i),
    ChangeMessageVisibility: (i) => service.changeMessageVisibility(i),
    ChangeMessageVisibilityBatch: (i) => service.changeMessageVisibilityBatch(i),
  };
}

/** AmazonSQS over AWS JSON 1.0 (X-Amz-Target: AmazonSQS.<Operation>). */
export function sqsJsonService(ops: Record<string, SqsOperation>): JsonTargetService {
  return {
    prefix: 'AmazonSQS',
    contentType: SQS_CONTENT_TYPE,
    async handle(operation, input, req, reply) {
      try {
        const op = ops[operation];
        if (!op) {
          throw sqsError('InvalidAction', `The action ${operation} is not valid for this endpoint.`);
        }
        return await op(input, req, reply);
      } catch (err) {
        return sendSqsError(reply, err);
      }
    },
  };
}

export { handleSqsQuery } from './query.js';
