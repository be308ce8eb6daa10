'use strict';
// console.* -> log records, as Lambda's Node.js runtime writes them:
//   TEXT: ISO_TIMESTAMP \t REQUEST_ID \t LEVEL \t util.format(...)
//   JSON (AWS_LAMBDA_LOG_FORMAT=JSON): {"timestamp","level","requestId","message",...}
// AWS_LAMBDA_LOG_LEVEL filters (default: everything).
// Each record is one frame on the log descriptor Stratus gives its runtimes (_STRATUS_LOG_FD,
// Lambda's telemetry frame format): one log event, newlines kept. Without it (a runtime started
// by hand), records go to stdout with '\n' inside turned into '\r', as Lambda's runtime does then.
const fs = require('node:fs');
const util = require('node:util');
const { intoError, toFormatted } = require('./errors.cjs');
const { promiseOnly } = require('./user-function.cjs');

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');

function setCurrentRequestId(id) {
  globalThis[REQUEST_ID] = id;
}

/** The invocation's tenant (tenant isolation), which JSON records carry as tenantId; else undefined. */
let tenantId;
function setCurrentTenantId(id) {
  tenantId = id;
}

/**
 * The request id a record shows: outside an invocation (init) undefined, as Lambda's client
 * before Node.js 24 shows it; from Node.js 24 on, '-' (its invoke store's placeholder).
 */
let outsideInvocation;
const requestId = () => globalThis[REQUEST_ID] ?? outsideInvocation;

const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});

/** The framed log descriptor, taken at boot (the function's environment never has the variable). */
const FRAME_FD = (() => {
  const fd = Number(process.env._STRATUS_LOG_FD);
  delete process.env._STRATUS_LOG_FD;
  if (!Number.isInteger(fd) || fd < 3) return -1;
  try {
    const st = fs.fstatSync(fd);
    return st.isSocket() || st.isFIFO() ? fd : -1;
  } catch {
    return -1;
  }
})();
const FRAME_TYPE_TEXT = 0xa55a0003;
const pause = new Int32Array(new SharedArrayBuffer(4));

function writeFrame(text) {
  const len = Buffer.byteLength(text);
  const frame = Buffer.allocUnsafe(16 + len);
  frame.writeUInt32BE(FRAME_TYPE_TEXT, 0);
  frame.writeUInt32BE(len, 4);
  frame.writeBigUInt64BE(BigInt(Date.now()) * 1000n, 8);
  frame.write(text, 16);
  for (let off = 0; off < frame.length;) {
    try {
      off += fs.writeSync(FRAME_FD, frame, off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 1); // the server reads on: wait for room
    }
  }
}

/** A TEXT record's frame ends with a newline, a JSON record's does not (as Lambda's runtime frames them). */
function write(line, json) {
  if (FRAME_FD >= 0) writeFrame(json ? line : line + '\n');
  else process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function logText(level, message, ...params) {
  write(`${new Date().toISOString()}\t${requestId()}\t${level.name}\t${util.format(message, ...params)}`);
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
  if (tenantId) result.tenantId = tenantId;
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
  write(formatJson(requestId(), new Date().toISOString(), level, message, ...params), true);
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
  if (promiseOnly()) outsideInvocation = '-';
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

module.exports = { setCurrentRequestId, setCurrentTenantId, logError, patchConsole };
