export * from './types.js';
export { PipelineInvoker, executionTarget, newTraceId, SYNC_PAYLOAD_LIMIT, ASYNC_PAYLOAD_LIMIT, type Resolved, type InvokerDeps } from './invoker.js';
export { LocalLeases } from './leases.js';
export { MemorySnapshot } from './snapshot.js';
export { randomString } from './random.js';
