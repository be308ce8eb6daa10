/**
 * Delivery to a resource named by ARN: dead-letter queues, async destinations, rule targets.
 * Each feature module registers the ARN prefix it serves (arn:aws:sqs:..., arn:aws:lambda:...,
 * arn:aws:events:...); senders call deliver() without knowing who serves it.
 */
export interface TargetMessage {
  body: string;
  /** Message attributes (SQS string attributes; used by DLQs: RequestID, ErrorCode, ErrorMessage). */
  attributes?: Record<string, string>;
  /** SQS data type per attribute when not 'String' (Lambda's DLQ sends ErrorCode as 'Number'). */
  attributeDataTypes?: Record<string, 'String' | 'Number'>;
  /** For event bus targets: the PutEvents entry fields around `body` (which is the detail JSON). */
  event?: { source: string; detailType: string; resources?: string[] };
  /** For FIFO queue targets (EventBridge SqsParameters.MessageGroupId). */
  messageGroupId?: string;
  /** For function targets: invoke asynchronously (default) or synchronously. */
  invocationType?: 'Event' | 'RequestResponse';
}

export type TargetDeliver = (arn: string, message: TargetMessage) => Promise<void>;

export interface TargetDispatcher {
  /** `service` is the ARN's service part: 'sqs', 'lambda', 'events', 'sns'. */
  register(service: string, deliver: TargetDeliver): void;
  /** Throws ResourceNotFoundException when no module serves the ARN or the resource is missing. */
  deliver(arn: string, message: TargetMessage): Promise<void>;
  /** True when some module serves this ARN's service. */
  serves(arn: string): boolean;
}
