import { md5OfMessageAttributes } from '../../core/sqs-md5.js';
import type { ReceivedMessage } from '../sqs/index.js';

/** Attribute order as Lambda writes them (standard, then FIFO). */
const STANDARD_ORDER = ['ApproximateReceiveCount', 'SentTimestamp', 'SenderId', 'ApproximateFirstReceiveTimestamp'];
const FIFO_ORDER = [
  'ApproximateReceiveCount', 'SentTimestamp', 'SequenceNumber', 'MessageGroupId', 'SenderId', 'MessageDeduplicationId',
  'ApproximateFirstReceiveTimestamp',
];

/** One record of the event Lambda gives a function for an SQS batch (Records[]). */
export function sqsRecord(m: ReceivedMessage, eventSourceArn: string, region: string): Record<string, unknown> {
  const fifo = m.attributes.SequenceNumber !== undefined;
  const attributes: Record<string, string> = {};
  for (const k of fifo ? FIFO_ORDER : STANDARD_ORDER) if (m.attributes[k] !== undefined) attributes[k] = m.attributes[k]!;
  if (m.attributes.AWSTraceHeader) attributes.AWSTraceHeader = m.attributes.AWSTraceHeader;
  if (!fifo && m.attributes.MessageGroupId !== undefined) attributes.MessageGroupId = m.attributes.MessageGroupId;
  if (m.attributes.DeadLetterQueueSourceArn) attributes.DeadLetterQueueSourceArn = m.attributes.DeadLetterQueueSourceArn;
  const messageAttributes: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(m.messageAttributes)) {
    const a: Record<string, unknown> = {};
    if (v.StringValue !== undefined) a.stringValue = v.StringValue;
    if (v.BinaryValue !== undefined) a.binaryValue = v.BinaryValue.toString('base64');
    a.stringListValues = v.StringListValues ?? [];
    a.binaryListValues = (v.BinaryListValues ?? []).map((b) => b.toString('base64'));
    a.dataType = v.DataType;
    messageAttributes[k] = a;
  }
  // With message attributes, their digest as SQS computes it (Lambda's records carry it then).
  const md5OfAttributes = md5OfMessageAttributes(m.messageAttributes);
  return {
    messageId: m.messageId,
    receiptHandle: m.receiptHandle,
    body: m.body,
    attributes,
    messageAttributes,
    md5OfBody: m.md5OfBody,
    ...(md5OfAttributes ? { md5OfMessageAttributes: md5OfAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: eventSourceArn,
    awsRegion: region,
  };
}
