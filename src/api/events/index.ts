import { StratusError } from '../../core/errors.js';
import type { EventsService } from '../../triggers/events/index.js';
import type { JsonTargetService } from '../json-target.js';

/**
 * EventBridge over AWS JSON 1.1 (X-Amz-Target: AWSEvents.<Operation>), as botocore's
 * events 2015-10-07 model names the operations.
 */
export function eventsJsonService(service: EventsService): JsonTargetService {
  const ops: Record<string, (input: Record<string, unknown>) => Promise<unknown> | unknown> = {
    CreateEventBus: (i) => service.createEventBus(i),
    DeleteEventBus: (i) => service.deleteEventBus(i),
    DescribeEventBus: (i) => service.describeEventBus(i),
    ListEventBuses: (i) => service.listEventBuses(i),
    PutRule: (i) => service.putRule(i),
    DescribeRule: (i) => service.describeRule(i),
    ListRules: (i) => service.listRules(i),
    DeleteRule: (i) => service.deleteRule(i),
    EnableRule: (i) => service.setRuleState(i, 'ENABLED'),
    DisableRule: (i) => service.setRuleState(i, 'DISABLED'),
    PutTargets: (i) => service.putTargets(i),
    RemoveTargets: (i) => service.removeTargets(i),
    ListTargetsByRule: (i) => service.listTargetsByRule(i),
    ListRuleNamesByTarget: (i) => service.listRuleNamesByTarget(i),
    TestEventPattern: (i) => service.testEventPattern(i),
    PutEvents: (i) => service.putEvents(i),
    TagResource: (i) => service.tagResource(i),
    UntagResource: (i) => service.untagResource(i),
    ListTagsForResource: (i) => service.listTagsForResource(i),
  };
  return {
    prefix: 'AWSEvents',
    contentType: 'application/x-amz-json-1.1',
    async handle(operation, input) {
      const op = ops[operation];
      if (!op) throw new StratusError('UnknownOperationException', 400, `Operation ${operation} is not supported by Stratus EventBridge.`);
      return op(input);
    },
  };
}
