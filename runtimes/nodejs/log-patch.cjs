'use strict';
// console.* -> stdout records, as Lambda's Node.js runtime writes them:
//   TEXT: ISO_TIMESTAMP \t REQUEST_ID \t LEVEL \t util.format(...)   ('\n' inside -> '\r')
//   JSON (AWS_LAMBDA_LOG_FORMAT=JSON): {"timestamp","level","requestId","message",...}
// AWS_LAMBDA_LOG_LEVEL filters (default: everything).
const util = require('node:util');
const { intoError, toFormatted } = require('./errors.cjs');

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');

function setCurrentRequestId(id) {
  globalThis[REQUEST_ID] = id;
}

const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});

function write(line) {
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function logText(level, message, ...params) {
  write(`${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level.name}\t${util.format(message, ...params)}`);
}

function jsonErrorReplacer(_k, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function formatJson(requestId, timestamp, level, ...params) {
  const result = { timestamp, level: level.name, requestId };
  if (params.length === 1) {
    result.message = params[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = util.format(...params);
  for (const p of params) {
    if (p instanceof Error) {
      result.errorType = p?.constructor?.name ?? 'UnknownError';
      result.errorMessage = p.message;
      result.stackTrace = typeof p.stack === 'string' ? p.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(result);
}

function logJson(level, message, ...params) {
  write(formatJson(globalThis[REQUEST_ID], new Date().toISOString(), level, message, ...params));
}

const logErrorText = (msg, err) => console.error(msg, toFormatted(intoError(err)));
const logErrorJson = (_msg, err) => console.error(intoError(err));
/** The runtime's own error logger: text until patchConsole knows the function's log format. */
let errorLogger = logErrorText;

/** Logs an error the way the runtime itself does ("Invoke Error", "Uncaught Exception", ...). */
function logError(msg, err) {
  errorLogger(msg, err);
}

/** Replaces console methods; call once the function's environment is in place. */
function patchConsole() {
  const json = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
  const log = json ? logJson : logText;
  const min = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
  const nop = () => {};
  const make = (level) => (level.priority >= min.priority ? (msg, ...params) => log(level, msg, ...params) : nop);
  console.trace = make(LEVELS.TRACE);
  console.debug = make(LEVELS.DEBUG);
  console.info = make(LEVELS.INFO);
  console.log = console.info;
  console.warn = make(LEVELS.WARN);
  console.error = make(LEVELS.ERROR);
  console.fatal = (msg, ...params) => log(LEVELS.FATAL, msg, ...params);
  errorLogger = json ? logErrorJson : logErrorText;
}

module.exports = { setCurrentRequestId, logError, patchConsole };
