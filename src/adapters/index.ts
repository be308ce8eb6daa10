/**
 * Implementations of the ports (src/ports). Only the composition root (src/app) imports this.
 * The schema runner lives in ./sql/migrations/index.js (`migrate`).
 */
export { openSqlDatabase, type SqlDatabaseOptions } from './sql/open.js';
export { SqlFunctionStore } from './sql/function-store.js';
export { SqlLayerStore } from './sql/layer-store.js';
export { SqlLogStore } from './sql/log-store.js';
export { SqlEventQueue } from './sql/event-queue.js';
export { FsBlobStore } from './fs/blob-store.js';
export { MemoryChangeFeed } from './memory/change-feed.js';
export { openNats, clusterId, NatsBlobStore, NatsChangeFeed, NatsNotices, type NatsChangeFeedOptions } from './nats/index.js';
