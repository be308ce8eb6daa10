import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sandboxMayCall } from '../../src/api/sandbox-access.js';

// The route is the pattern the router matched (undefined: none did, a 404).
const cases: Array<[string, string | undefined, string | undefined, boolean]> = [
  ['POST', '/2015-03-31/functions/:FunctionName/invocations', undefined, true],
  ['GET', '/2015-03-31/functions/:FunctionName', undefined, false],
  ['POST', '/*', 'AmazonSQS.SendMessage', true],
  ['POST', '/*', undefined, true],
  ['GET', undefined, undefined, true],
  // An open operation's X-Amz-Target does not open a management route (REST routes ignore it).
  ['GET', '/2015-03-31/functions/:FunctionName', 'AWSEvents.PutEvents', false],
  ['PUT', '/2015-03-31/functions/:FunctionName/configuration', 'AmazonSQS.SendMessage', false],
  ['GET', '/_stratus/async/events', 'Logs_20140328.PutLogEvents', false],
  // Nor does a closed one become open on a route functions may use.
  ['POST', '/2015-03-31/functions/:FunctionName/invocations', 'Logs_20140328.FilterLogEvents', false],
  ['POST', '/2015-03-31/functions/other/invocations', undefined, true],
  ['POST', '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aother/invocations/', undefined, true],
  ['POST', '/2014-11-13/functions/other/invoke-async/', undefined, true],
  ['POST', '/2021-11-15/functions/other/response-streaming-invocations', undefined, true],
  ['GET', '/2015-03-31/functions/other', undefined, false],
  ['GET', '/2015-03-31/functions/other/configuration', undefined, false],
  ['GET', '/2015-03-31/functions', undefined, false],
  ['PUT', '/2015-03-31/functions/other/code', undefined, false],
  ['DELETE', '/2015-03-31/functions/other', undefined, false],
  ['GET', '/2015-03-31/functions/other/invocations', undefined, false],
  ['POST', '/2015-03-31/functions', undefined, false],
  ['GET', '/2016-08-19/account-settings', undefined, false],
  ['POST', '/2015-03-31/event-source-mappings', undefined, false],
  ['GET', '/_stratus/code/other/%24LATEST', undefined, false],
  ['GET', '/_stratus/async/events', undefined, false],
  ['POST', '/v2/apis', undefined, false],
  ['POST', '/', 'AmazonSQS.SendMessage', true],
  ['POST', '/000000000000/q', 'AmazonSQS.ReceiveMessage', true],
  ['POST', '/', 'AmazonSQS.DeleteQueue', false],
  ['POST', '/', 'AWSEvents.PutEvents', true],
  ['POST', '/', 'AWSEvents.PutRule', false],
  ['POST', '/', 'Logs_20140328.PutLogEvents', true],
  ['POST', '/', 'Logs_20140328.FilterLogEvents', false],
  ['POST', '/', 'Logs_20140328.GetLogEvents', false],
  ['GET', '/_apis/abc123/prod/items', undefined, true],
  ['POST', '/_urls/xyz/', undefined, true],
  ['GET', '/anything/else', undefined, true],
];

for (const [method, path, target, allow] of cases) {
  test(`${allow ? 'allows' : 'refuses'} ${method} ${target ?? path}`, () => {
    assert.equal(sandboxMayCall(method, path, target).allow, allow);
  });
}
