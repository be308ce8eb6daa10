import { StratusError } from './errors.js';

/**
 * SQS's error catalogue. Each error carries the JSON protocol name (`__type` is
 * `com.amazonaws.sqs#<code>`), the query-compatible code sent in `x-amzn-query-error` (older
 * clients map errors by it), and the status, as the SQS model's awsQueryError traits give them.
 */
const QUERY_CODES: Record<string, [string, number]> = {
  QueueDoesNotExist: ['AWS.SimpleQueueService.NonExistentQueue', 400],
  QueueNameExists: ['QueueAlreadyExists', 400],
  QueueDeletedRecently: ['AWS.SimpleQueueService.QueueDeletedRecently', 400],
  ReceiptHandleIsInvalid: ['ReceiptHandleIsInvalid', 404],
  InvalidAttributeName: ['InvalidAttributeName', 400],
  InvalidAttributeValue: ['InvalidAttributeValue', 400],
  EmptyBatchRequest: ['AWS.SimpleQueueService.EmptyBatchRequest', 400],
  TooManyEntriesInBatchRequest: ['AWS.SimpleQueueService.TooManyEntriesInBatchRequest', 400],
  BatchEntryIdsNotDistinct: ['AWS.SimpleQueueService.BatchEntryIdsNotDistinct', 400],
  BatchRequestTooLong: ['AWS.SimpleQueueService.BatchRequestTooLong', 400],
  InvalidBatchEntryId: ['AWS.SimpleQueueService.InvalidBatchEntryId', 400],
  PurgeQueueInProgress: ['AWS.SimpleQueueService.PurgeQueueInProgress', 403],
  InvalidMessageContents: ['InvalidMessageContents', 400],
  MessageNotInflight: ['AWS.SimpleQueueService.MessageNotInflight', 400],
  UnsupportedOperation: ['AWS.SimpleQueueService.UnsupportedOperation', 400],
  OverLimit: ['OverLimit', 403],
  InvalidAddress: ['InvalidAddress', 404],
  // Not modelled as shapes, but SQS answers with them (SDKs surface the name).
  MissingParameter: ['MissingParameter', 400],
  InvalidParameterValue: ['InvalidParameterValue', 400],
  InvalidAction: ['InvalidAction', 400],
};

export function sqsError(code: keyof typeof QUERY_CODES | string, message: string): StratusError {
  const [queryCode, status] = QUERY_CODES[code] ?? [code, 400];
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return new StratusError(code, status, message, { queryErrorCode: `${queryCode};${type}` });
}

export const SqsErrors = {
  queueDoesNotExist: () => sqsError('QueueDoesNotExist', 'The specified queue does not exist.'),
  queueNameExists: (message: string) => sqsError('QueueNameExists', message),
  receiptHandleInvalid: (handle: string) =>
    sqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`),
  invalidAttributeName: (message: string) => sqsError('InvalidAttributeName', message),
  invalidAttributeValue: (message: string) => sqsError('InvalidAttributeValue', message),
  invalidParameterValue: (message: string) => sqsError('InvalidParameterValue', message),
  missingParameter: (name: string) => sqsError('MissingParameter', `The request must contain the parameter ${name}.`),
  emptyBatch: (op: string) => sqsError('EmptyBatchRequest', `There should be at least one ${op}RequestEntry in the request.`),
  tooManyEntries: (n: number) =>
    sqsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are 10. You have sent ${n}.`),
  idsNotDistinct: (id: string) => sqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`),
  invalidBatchEntryId: () =>
    sqsError(
      'InvalidBatchEntryId',
      'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
    ),
  batchTooLong: (size: number, max: number) =>
    sqsError('BatchRequestTooLong', `Batch requests cannot be longer than ${max} bytes. You have sent ${size} bytes.`),
  purgeInProgress: (arn: string) =>
    sqsError('PurgeQueueInProgress', `Only one PurgeQueue operation on ${arn} is allowed every 60 seconds.`),
  invalidMessageContents: () => sqsError('InvalidMessageContents', 'Invalid characters found. Deleting or replacing invalid characters in the message body or message attributes may resolve the issue.'),
  /** FIFO queues: the handle's visibility timeout has ended (the message may have been received again). */
  receiptHandleExpired: (handle: string) =>
    sqsError('InvalidParameterValue', `Value ${handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`),
  messageNotInflight: () => sqsError('MessageNotInflight', 'The message referred to is not in flight.'),
};
