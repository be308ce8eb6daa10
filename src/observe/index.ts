export {
  createLogService, logsChannel, logsDroppedChannel,
  type LogService, type LogServiceOptions, type LogServiceStats, type LogsDroppedMessage, type LogsPersistedMessage,
} from './logs.js';
