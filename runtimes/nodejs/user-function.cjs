'use strict';
// Loads the handler named by _HANDLER ("dir/module.export.nested") from the task root, the way
// Lambda's Node.js runtime resolves it: extensionless / .js (CommonJS unless the nearest
// package.json says "type": "module") / .mjs / .cjs, then node-style resolution.
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { CallbackHandlerDeprecated, HandlerNotFound, ImportModuleError, MalformedHandlerName, MalformedStreamingHandler, UserCodeSyntaxError } = require('./errors.cjs');

/**
 * Resolves and loads user modules the way a require() in the task root's runtime would. Its
 * module is named as Lambda's runtime entry point is, so a failed require's "Require stack:"
 * ends as Lambda's does ("- /var/runtime/index.mjs", where the sandbox presents this directory
 * at /var/runtime).
 */
const userRequire = require('node:module').createRequire(path.join(__dirname, 'index.mjs'));

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';

function moduleRootAndHandler(full) {
  const handlerString = path.basename(full);
  return [full.substring(0, full.indexOf(handlerString)), handlerString];
}

function splitHandlerString(handler) {
  const m = handler.match(FUNCTION_EXPR);
  if (!m || m.length !== 3) throw new MalformedHandlerName('Bad handler');
  return [m[1], m[2]];
}

function resolveHandler(object, nested) {
  if (!promiseOnly()) return nested.split('.').reduce((o, key) => o && o[key], object);
  // Node.js 24's client: only objects are walked into, and a module's default export is looked
  // in when the module itself has no such handler (export default { handler }).
  const findIn = (root) => nested.split('.').reduce((o, key) => (o && typeof o === 'object' ? o[key] : undefined), root);
  let fn = findIn(object);
  if (!fn && typeof object === 'object' && object !== null && 'default' in object) fn = findIn(object.default);
  return fn;
}

function tryRequireFile(file, ext = '') {
  const p = file + ext;
  return fs.existsSync(p) ? userRequire(p) : undefined;
}

async function tryImport(file, ext) {
  const p = file + ext;
  if (!fs.existsSync(p)) return undefined;
  resolveEsmFromNodePath();
  return import(pathToFileURL(p).href);
}

let esmNodePath = false;
/** Puts node's own Module.prototype._compile back (see resolveEsmFromNodePathOnImport). */
let restoreCompile = null;

/**
 * The node_modules directories NODE_PATH names that exist (a function with layers for Node.js:
 * /opt/nodejs/node_modules, ...). Read when loading the function, not before: a pooled runtime
 * loads a handler of its own while it waits (warm-up.cjs), with no NODE_PATH.
 */
function nodeModulesOfNodePath() {
  return (process.env.NODE_PATH || '').split(':').filter((d) => path.isAbsolute(d) && path.basename(d) === 'node_modules' && fs.existsSync(d));
}

/**
 * ES modules import packages of the function's layers as CommonJS requires them: node's ES
 * module resolution ignores NODE_PATH, and Lambda's Node.js 18+ runtimes resolve such imports
 * from it (their SDK in /var/runtime/node_modules, the layers' /opt/nodejs/node_modules). Hooks
 * (esm-node-path.mjs) look there for what node does not find from the importing file; they run
 * on a thread of their own (~30 ms to start here, and ~12 MiB), so only where NODE_PATH names a
 * node_modules directory that exists, once.
 */
function resolveEsmFromNodePath() {
  if (esmNodePath) return;
  esmNodePath = true;
  restoreCompile?.();
  const dirs = nodeModulesOfNodePath();
  const { register } = require('node:module');
  if (dirs.length === 0 || typeof register !== 'function') return;
  register(pathToFileURL(path.join(__dirname, 'esm-node-path.mjs')).href, { data: { dirs } });
}

/** An import() call in source text (a false positive only costs the hooks' start). */
const DYNAMIC_IMPORT = /\bimport\s*\(/;

/**
 * A CommonJS function's import() of a package of its layers resolves from NODE_PATH too. The
 * hooks are started only when they may be needed (see resolveEsmFromNodePath): once a CommonJS
 * module that calls import() is compiled (the handler's own, or one required later), before it
 * runs; node's own compile is then put back. Nothing for a function without layers for Node.js.
 */
function resolveEsmFromNodePathOnImport() {
  if (esmNodePath || restoreCompile || nodeModulesOfNodePath().length === 0) return;
  const proto = require('node:module').prototype;
  const compile = proto._compile;
  const watching = function _compile(content, filename, ...rest) {
    if (!esmNodePath && typeof content === 'string' && DYNAMIC_IMPORT.test(content)) resolveEsmFromNodePath();
    return compile.call(this, content, filename, ...rest);
  };
  // Unless something wrapped it meanwhile (an APM agent): the wrapper calls this one, whose test is then one flag.
  restoreCompile = () => { if (proto._compile === watching) proto._compile = compile; };
  proto._compile = watching;
}

function folderHasTypeModule(folder) {
  for (;;) {
    if (folder.endsWith('/node_modules')) return false;
    const pj = path.join(folder, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
        if (pkg) return pkg.type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    if (folder === '/' || path.dirname(folder) === folder) return false;
    folder = path.dirname(folder);
  }
}

async function tryRequire(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);
  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) return extensionless;
  const pjHasModule = folderHasTypeModule(path.dirname(lambdaStylePath));
  if (!pjHasModule) {
    const loaded = tryRequireFile(lambdaStylePath, '.js');
    if (loaded) return loaded;
  }
  const loaded =
    (pjHasModule && (await tryImport(lambdaStylePath, '.js'))) ||
    (await tryImport(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs');
  if (loaded) return loaded;
  return userRequire(userRequire.resolve(module, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] }));
}

async function loadUserApp(appRoot, moduleRoot, module) {
  resolveEsmFromNodePathOnImport();
  try {
    return await tryRequire(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    // CommonJS's MODULE_NOT_FOUND only: an ES module's failed import (ERR_MODULE_NOT_FOUND,
    // "Cannot find package 'x' imported from /var/task/index.mjs") reaches the caller as it is,
    // as Lambda's runtime client lets it through (errorType "Error").
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
}

/** The handler function; throws Runtime.* errors Lambda reports for a bad handler. */
async function load(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const [moduleRoot, moduleAndHandler] = moduleRootAndHandler(fullHandlerString);
  const [module, handlerPath] = splitHandlerString(moduleAndHandler);
  const userApp = await loadUserApp(appRoot, moduleRoot, module);
  const fn = resolveHandler(userApp, handlerPath);
  if (!fn) throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  return fn;
}

function streamingMode(handler) {
  const v = handler[HANDLER_STREAMING];
  if (v === undefined || v === null || v === false) return false;
  if (v === STREAM_RESPONSE) return STREAM_RESPONSE;
  throw new MalformedStreamingHandler('Only response streaming is supported.');
}

function handlerMetadata(fn) {
  const hwm = fn[HANDLER_HIGHWATERMARK];
  const n = hwm === undefined || hwm === null || hwm === false ? NaN : parseInt(hwm);
  return {
    streaming: streamingMode(fn),
    highWaterMark: Number.isNaN(n) ? undefined : n,
    isAsync: fn.constructor?.name === 'AsyncFunction',
    argsNum: fn.length,
  };
}

/**
 * Whether the function runs on Lambda's Node.js 24 programming model (nodejs24.x and later): no
 * callback handlers, and a context without callbackWaitsForEmptyEventLoop / succeed / fail / done.
 */
function promiseOnly(env = process.env) {
  const m = /^AWS_Lambda_nodejs(\d+)\.x$/.exec(env.AWS_EXECUTION_ENV ?? '');
  return m !== null && Number(m[1]) >= 24;
}

const CALLBACK_DEPRECATED = 'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. ' +
  'You need to modify this function to use a supported handler signature to use Node.js 24 or later. ' +
  'For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

const CALLBACK_WARNING = 'AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. ' +
  'You will need to update this function to use an async handler to use Node.js 24 or later. For more information and to provide ' +
  'feedback on this change, see https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. ' +
  'To disable this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.';

/**
 * At init, as Lambda's runtime client: Node.js 24 and later refuse a handler declaring three or
 * more parameters (not a streaming one); earlier versions warn about a non-async one with three.
 */
function checkHandlerSignature(meta, env = process.env) {
  if (promiseOnly(env)) {
    if (meta.argsNum >= 3 && !meta.streaming) throw new CallbackHandlerDeprecated(CALLBACK_DEPRECATED);
    return;
  }
  if (env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING === undefined && meta.argsNum === 3 && !meta.isAsync && !meta.streaming) {
    console.warn(CALLBACK_WARNING);
  }
}

/**
 * The `awslambda` global Lambda provides to user code. `httpResponseStream()` gives its
 * HttpResponseStream, loaded on first use (node:stream and response-stream.cjs take ~2 ms, which
 * a cold start of a function that never streams does not pay).
 */
function awslambdaGlobal(httpResponseStream) {
  return {
    streamifyResponse(handler, options) {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark);
      return handler;
    },
    get HttpResponseStream() {
      const value = httpResponseStream();
      Object.defineProperty(this, 'HttpResponseStream', { value, writable: true, enumerable: true, configurable: true });
      return value;
    },
  };
}

module.exports = { STREAM_RESPONSE, load, handlerMetadata, checkHandlerSignature, promiseOnly, awslambdaGlobal };
