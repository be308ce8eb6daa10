import type { StratusModule } from '../../app/module.js';
import { LATEST } from '../../core/model.js';
import { claimTraffic } from '../gateway/index.js';
import { registerFunctionUrlApi } from './api.js';
import { isUrlRequest, serveUrl, UrlTable, type UrlServeDeps } from './serve.js';
import { URL_CHANGE_TYPE, UrlService } from './service.js';
import { UrlStore } from './store.js';

export { UrlService, URL_CHANGE_TYPE, functionUrlOf, corsFromWire, corsToWire } from './service.js';
export { UrlStore, type UrlConfig } from './store.js';
export { UrlTable, serveUrl, isUrlRequest, HttpStreamSink, UrlResponses, URL_MAX_BODY } from './serve.js';
export { registerFunctionUrlApi } from './api.js';

/**
 * Lambda function URLs: the Create/Get/Update/Delete/ListFunctionUrlConfig(s) operations, and
 * traffic at http://URL_ID.lambda-url.localhost:PORT/ or http://HOST:PORT/_urls/URL_ID/, in
 * BUFFERED or RESPONSE_STREAM mode, through the one invoker (source 'url').
 */
export function functionUrlsModule(): StratusModule {
  let unsubscribe: (() => void) | undefined;
  return {
    name: 'function-urls',
    async init(ctx) {
      const store = new UrlStore(ctx.sql);
      const table = new UrlTable(store);
      await table.load();
      const service = new UrlService({
        store,
        functions: ctx.functions,
        changes: ctx.changes,
        clock: ctx.clock,
        locale: ctx.locale,
        baseUrl: () => ctx.baseUrl(),
        onChanged: (id) => table.refresh(id),
      });
      unsubscribe = ctx.changes.subscribe((e) => {
        if (e.kind === 'resource' && e.type === URL_CHANGE_TYPE) void table.refresh(e.id);
        else if (e.kind === 'resync') void table.load().catch(() => undefined);
        else if (e.kind === 'function-deleted') {
          table.dropFunction(e.name);
          void service.dropFunction(e.name).catch(() => undefined);
        } else if (e.kind === 'function') {
          // A deleted alias takes its URL with it: a new alias of the same name gets none (and a
          // new URL would get a new address).
          const aliases = ctx.snapshot.get(e.name)?.aliases;
          for (const c of table.ofFunction(e.name)) {
            if (c.qualifier !== LATEST && aliases && !aliases.has(c.qualifier)) void service.dropQualifier(c).catch(() => undefined);
          }
        }
      });
      const deps: UrlServeDeps = { table, invoker: ctx.invoker, clock: ctx.clock, locale: ctx.locale };
      claimTraffic(ctx.http, isUrlRequest, (req, res) => serveUrl(deps, req, res));
      registerFunctionUrlApi(ctx.http, service);
    },
    stop() {
      unsubscribe?.();
    },
  };
}
