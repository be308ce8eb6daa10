/**
 * Tests that need an external service (Postgres, NATS, the aws CLI) call this: when the
 * service is missing they are skipped with the reason, except under CI where a missing
 * service is a failure with a clear message.
 */
export function serviceMissing(t: { skip(msg?: string): void }, what: string, reason: string): void {
  if (process.env.CI) throw new Error(`${what} is required when CI is set: ${reason}`);
  t.skip(`${what} unavailable: ${reason}`);
}

export const TEST_DATABASE_URL = process.env.STRATUS_TEST_DATABASE_URL ?? (process.env.CI ? 'postgres://postgres@127.0.0.1:5432/test' : undefined);
export const TEST_NATS_URL = process.env.STRATUS_TEST_NATS_URL ?? (process.env.CI ? 'nats://127.0.0.1:4222' : undefined);
