import assert from 'node:assert/strict';

/**
 * Asserts that an AWS SDK call fails with the error `name`, the message (exact, or matching) and,
 * when given, the HTTP status.
 */
export async function rejects(p: Promise<unknown>, name: string, message: string | RegExp, status?: number): Promise<void> {
  await assert.rejects(p, (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, name, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    if (status !== undefined) assert.equal(e.$metadata?.httpStatusCode, status);
    return true;
  });
}
