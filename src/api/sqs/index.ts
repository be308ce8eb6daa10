import type { FastifyReply } from 'fastify';
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

/** AmazonSQS over AWS JSON 1.0 (X-Amz-Target: AmazonSQS.<Operation>), per botocore's sqs 2012-11-05 model. */
export function sqsJsonService(service: SqsService): JsonTargetService {
  type Op = (input: Record<string, unknown>, host: string | undefined, signal: AbortSignal | undefined) => Promise<unknown>;
  const ops: Record<string, Op> = {
    CreateQueue: (i, h) => service.createQueue(i, h),
    GetQueueUrl: (i, h) => service.getQueueUrl(i, h),
    ListQueues: (i, h) => service.listQueues(i, h),
    DeleteQueue: (i) => service.deleteQueue(i),
    GetQueueAttributes: (i) => service.getQueueAttributes(i),
    SetQueueAttributes: (i) => service.setQueueAttributes(i),
    PurgeQueue: (i) => service.purgeQueue(i),
    TagQueue: (i) => service.tagQueue(i),
    UntagQueue: (i) => service.untagQueue(i),
    ListQueueTags: (i) => service.listQueueTags(i),
    ListDeadLetterSourceQueues: (i, h) => service.listDeadLetterSourceQueues(i, h),
    SendMessage: (i) => service.sendMessage(i),
    SendMessageBatch: (i) => service.sendMessageBatch(i),
    ReceiveMessage: (i, _h, signal) => service.receiveMessage(i, signal),
    DeleteMessage: (i) => service.deleteMessage(i),
    DeleteMessageBatch: (i) => service.deleteMessageBatch(i),
    ChangeMessageVisibility: (i) => service.changeMessageVisibility(i),
    ChangeMessageVisibilityBatch: (i) => service.changeMessageVisibilityBatch(i),
  };
  return {
    prefix: 'AmazonSQS',
    contentType: SQS_CONTENT_TYPE,
    async handle(operation, input, req, reply) {
      try {
        const op = ops[operation];
        if (!op) {
          throw sqsError('InvalidAction', `The action ${operation} is not valid for this endpoint.`);
        }
        let abort: AbortController | undefined;
        if (operation === 'ReceiveMessage') {
          // A long poll ends when its client goes away, so no message is hidden for nobody.
          abort = new AbortController();
          const onClose = () => {
            if (!reply.raw.writableFinished) abort!.abort();
          };
          reply.raw.once('close', onClose);
        }
        return await op(input, req.headers.host, abort?.signal);
      } catch (err) {
        return sendSqsError(reply, err);
      }
    },
  };
}
