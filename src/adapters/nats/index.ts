/** The cluster's adapters over NATS (JetStream): one connection per node, shared. */
export { openNats, clusterId } from './connection.js';
export { NatsBlobStore } from './blob-store.js';
