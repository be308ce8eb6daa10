/** Execution environments: the ExecutionService port's implementation. */
export { createExecutionService, type ExecutionServiceOptions, type PoolStats, type StratusExecutionService } from './service.js';
export { INIT_TIMEOUT_MS } from './environment.js';
export { LOG_CAP_BYTES } from './log-writer.js';
export { MAX_RESPONSE_BYTES } from './format.js';
export { namespaceBlockers } from './sandbox/detect.js';
export { transition as envTransition, type EnvState, type EnvEvent } from './state.js';
export type { RuntimeLaunch } from './runtimes.js';
export { claimBlock } from './sandbox/uids.js';
export { socketEnds } from './peer.js';
