// Module resolution hooks (node:module register) for ES modules: a bare specifier that node
// cannot resolve from where it is imported is looked for in the node_modules directories of
// NODE_PATH, as CommonJS's require does. Lambda's Node.js 18+ runtimes resolve ES module imports
// from layers so (/opt/nodejs/node_modules, /opt/nodejs/nodeXX/node_modules), where node's own
// ES module resolution only walks up from the importing file. See user-function.cjs.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** For each directory, a module URL in its parent: resolving from there finds the directory first. */
let parents = [];

export function initialize(data) {
  parents = (data?.dirs ?? []).map((d) => pathToFileURL(path.join(path.dirname(d), 'index.mjs')).href);
}

/** Not relative, absolute, a URL (node:, file:, data:) or a package import (#x). */
function isBare(specifier) {
  return !/^(\.{0,2}\/|#|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) throw e;
    for (const parentURL of parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (again) {
        if (again?.code !== 'ERR_MODULE_NOT_FOUND') throw again;
      }
    }
    // Not found there either: the error of the import as written.
    throw e;
  }
}
