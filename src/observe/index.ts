export {
  createLogService, logsChannel, logsDroppedChannel,
  type LogService, type LogServiceOptions, type LogServiceStats, type LogsDroppedMessage, type LogsPersistedMessage,
} from './logs.js';
export {
  createRetentionSweeper, logsRetentionChannel, RETENTION_SWEEP_BATCH, RETENTION_SWEEP_INTERVAL_MS,
  type LogsRetentionMessage, type RetentionSweeper, type RetentionSweeperOptions,
} from './retention.js';
