/** The cluster's adapters over NATS (JetStream): one connection per node, shared. */
export { openNats, clusterId } from './connection.js';
export { NatsBlobStore } from './blob-store.js';
export { NatsChangeFeed, type NatsChangeFeedOptions } from './change-feed.js';
export { NatsNotices } from './notices.js';
