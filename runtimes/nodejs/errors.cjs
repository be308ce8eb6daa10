'use strict';
// Error types and serialisation, shaped as Lambda's Node.js runtime does.
const util = require('node:util');

function isErrorLike(o) {
  return !!o && typeof o.name === 'string' && typeof o.message === 'string' && typeof o.stack === 'string' && !!o.name && !!o.message && !!o.stack;
}

/** What both runtime clients post for an error whose name, message or stack cannot be read. */
const UNREADABLE = 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack';

/** Anything thrown or passed to a callback, as an Error. */
function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

/** DEL characters as Lambda's runtime clients write them in an error (since version 3.1, its NodeJsExit's). */
const escapeDel = (text) => text?.replaceAll('\x7F', '%7F');

/**
 * The body posted to /invocation/{id}/error and /init/error (DEL characters escaped). `awaited`:
 * as Lambda's runtime client for Node.js 24 and later formats it (only an Error is taken as one).
 */
function toRapidResponse(error, awaited = false) {
  if (awaited) return formatAwaited(error);
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return { errorType: escapeDel(error.name), errorMessage: escapeDel(error.message), trace: escapeDel(error.stack).split('\n') };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: UNREADABLE,
    };
  }
}

function formatAwaited(error) {
  try {
    if (error instanceof Error) {
      return { errorType: escapeDel(error.name), errorMessage: escapeDel(error.message), trace: escapeDel(error.stack)?.split('\n') || [] };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: UNREADABLE,
      trace: [],
    };
  }
}

function withEnumerableProperties(error) {
  if (error instanceof Error) {
    const ret = Object.assign({ errorType: error.name, errorMessage: error.message, code: error.code }, error);
    if (typeof error.stack === 'string') ret.stack = error.stack.split('\n');
    return ret;
  }
  return error;
}

/** How an error is written to the log: always starts with a tab. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class MalformedStreamingHandler extends Error {}
class InvalidStreamingOperation extends Error {}
class CallbackHandlerDeprecated extends Error {}
class JSONStringifyError extends Error {}
class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}

for (const e of [ImportModuleError, HandlerNotFound, MalformedHandlerName, UserCodeSyntaxError, MalformedStreamingHandler, InvalidStreamingOperation, CallbackHandlerDeprecated, JSONStringifyError, NodeJsExit, UnhandledPromiseRejection]) {
  e.prototype.name = `Runtime.${e.name}`;
}

module.exports = { intoError, toRapidResponse, toFormatted, ImportModuleError, HandlerNotFound, MalformedHandlerName, UserCodeSyntaxError, MalformedStreamingHandler, InvalidStreamingOperation, CallbackHandlerDeprecated, JSONStringifyError, NodeJsExit, UnhandledPromiseRejection };
