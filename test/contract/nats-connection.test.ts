import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterId, openNats } from '../../src/adapters/nats/index.js';
import { natsMissing, natsUrl } from './nats.js';

describe('clusterId', () => {
  it('is 12 hex of the database URL, the same whatever the password', () => {
    const id = clusterId('postgres://stratus:secret@db.example:5432/stratus');
    assert.match(id, /^[0-9a-f]{12}$/);
    assert.equal(clusterId('postgres://stratus:rotated@db.example:5432/stratus'), id);
    assert.equal(clusterId('postgres://stratus@db.example:5432/stratus'), id);
    assert.equal(clusterId('postgres://stratus@db.example:5432/stratus?password=other'), id);
    assert.equal(
      clusterId('host=db.example user=stratus password=secret dbname=stratus'),
      clusterId("host=db.example user=stratus password='an other' dbname=stratus"),
    );
  });

  it('differs between databases (two clusters on one NATS never share a namespace)', () => {
    const ids = new Set(
      [
        'postgres://stratus@db.example:5432/stratus',
        'postgres://stratus@db.example:5432/stratus2',
        'postgres://stratus@db2.example:5432/stratus',
        'postgres://other@db.example:5432/stratus',
        'postgres://stratus@db.example:5433/stratus',
      ].map(clusterId),
    );
    assert.equal(ids.size, 5);
  });
});

describe('openNats', () => {
  it('says which NATS is unreachable, without its credentials', async () => {
    await assert.rejects(openNats('nats://127.0.0.1:1', 'stratus-test'), (e: Error) => {
      assert.match(e.message, /^NATS at nats:\/\/127\.0\.0\.1:1 is unreachable: \S/);
      return true;
    });
    await assert.rejects(openNats('nats://alice:s3cret@127.0.0.1:1', 'stratus-test'), (e: Error) => {
      assert.match(e.message, /^NATS at nats:\/\/127\.0\.0\.1:1 is unreachable: /);
      assert.doesNotMatch(e.message, /s3cret|alice/);
      return true;
    });
  });

  it('connects under the given name and reconnects forever', async (t) => {
    if (natsMissing(t)) return;
    const nc = await openNats(natsUrl(), 'stratus-test-node');
    try {
      const options = (nc as unknown as { options: { name?: string; maxReconnectAttempts?: number } }).options;
      assert.equal(options.name, 'stratus-test-node');
      assert.equal(options.maxReconnectAttempts, -1);
      await nc.flush();
    } finally {
      await nc.close();
    }
    // Credentials in the URL are sent as credentials, not left in the server address.
    const u = new URL(natsUrl().split(',')[0]!);
    u.username = 'alice';
    u.password = 's3cret';
    const withCredentials = await openNats(u.toString(), 'stratus-test-node');
    try {
      const options = (withCredentials as unknown as { options: { user?: string; pass?: string; servers?: string[] } }).options;
      assert.equal(options.user, 'alice');
      assert.equal(options.pass, 's3cret');
      assert.doesNotMatch(String(options.servers), /alice|s3cret/);
      await withCredentials.flush();
    } finally {
      await withCredentials.close();
    }
  });
});
