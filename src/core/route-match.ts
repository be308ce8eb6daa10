/**
 * HTTP API route keys as API Gateway v2 accepts and matches them:
 *   `GET /items/{id}`, `ANY /files/{proxy+}`, `POST /`, `$default`.
 * Matching picks the most specific route: literal segments beat `{param}`, which beats a
 * greedy `{name+}`; a path without a greedy variable beats one with it; a specific method
 * beats ANY; `$default` catches what nothing else matched.
 *
 * As in HTTP APIs (unlike REST APIs) a trailing slash is significant: `/items/` does not match
 * `GET /items` (route keys cannot end in a slash), but it does match `/items/{proxy+}`.
 */

export const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY'] as const;
export const DEFAULT_ROUTE = '$default';

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

export interface ParsedRouteKey {
  routeKey: string;
  /** Undefined for `$default`. */
  method?: string;
  /** Resource path, e.g. `/items/{id}`. */
  path?: string;
  segments: Segment[];
  isDefault: boolean;
}

/** Parses a route key; returns an error message when API Gateway would refuse it. */
export function parseRouteKey(routeKey: string): ParsedRouteKey | { error: string } {
  if (routeKey === DEFAULT_ROUTE) return { routeKey, segments: [], isDefault: true };
  const m = /^([A-Z]+) (\/\S*)$/.exec(routeKey);
  if (!m) return { error: `Invalid route key: ${routeKey}. Route keys must be $default or of the form 'METHOD /path'` };
  const method = m[1]!;
  const path = m[2]!;
  if (!(ROUTE_METHODS as readonly string[]).includes(method)) return { error: `Unsupported HTTP method: ${method} in route key ${routeKey}` };
  const segments: Segment[] = [];
  const parts = path === '/' ? [] : path.slice(1).split('/');
  const names = new Set<string>();
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '') return { error: `Invalid route key: ${routeKey}. Empty path segment` };
    const v = /^\{([A-Za-z0-9._-]+)(\+?)\}$/.exec(p);
    if (v) {
      if (names.has(v[1]!)) return { error: `Invalid route key: ${routeKey}. Duplicate path parameter ${v[1]}` };
      names.add(v[1]!);
      if (v[2]) {
        if (i !== parts.length - 1) return { error: `Invalid route key: ${routeKey}. A greedy path variable must be the last segment` };
        segments.push({ kind: 'greedy', name: v[1]! });
      } else {
        segments.push({ kind: 'param', name: v[1]! });
      }
    } else if (/[{}]/.test(p)) {
      return { error: `Invalid route key: ${routeKey}. Malformed path parameter ${p}` };
    } else {
      segments.push({ kind: 'literal', value: p });
    }
  }
  return { routeKey, method, path, segments, isDefault: false };
}

export interface RouteMatch<T> {
  route: T;
  routeKey: string;
  /** Path parameters, URL-decoded. Empty when the route has none. */
  pathParameters: Record<string, string>;
}

interface Compiled<T> {
  key: ParsedRouteKey;
  value: T;
}

/** A compiled routing table; build once per API change, match per request. */
export class RouteTable<T> {
  private readonly routes: Compiled<T>[] = [];
  private defaultRoute: Compiled<T> | undefined;

  constructor(entries: Iterable<{ routeKey: string; value: T }>) {
    for (const e of entries) {
      const key = parseRouteKey(e.routeKey);
      if ('error' in key) continue;
      if (key.isDefault) this.defaultRoute = { key, value: e.value };
      else this.routes.push({ key, value: e.value });
    }
    this.routes.sort((a, b) => compareSpecificity(a.key, b.key));
  }

  /** `path` is the path within the stage, still percent-encoded (e.g. `/items/a%20b`). */
  match(method: string, path: string): RouteMatch<T> | undefined {
    const parts = splitPath(path);
    for (const r of this.routes) {
      if (r.key.method !== 'ANY' && r.key.method !== method) continue;
      const params = matchSegments(r.key.segments, parts);
      if (params) return { route: r.value, routeKey: r.key.routeKey, pathParameters: params };
    }
    if (this.defaultRoute) return { route: this.defaultRoute.value, routeKey: DEFAULT_ROUTE, pathParameters: {} };
    return undefined;
  }
}

function splitPath(path: string): string[] {
  const p = path.startsWith('/') ? path.slice(1) : path;
  if (p === '') return [];
  // `/items/` is ['items', '']: the empty last segment keeps the trailing slash significant.
  return p.split('/');
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.kind === 'greedy') {
      if (i >= parts.length) return undefined; // {proxy+} needs at least one segment
      params[s.name] = decode(parts.slice(i).join('/'));
      return params;
    }
    const part = parts[i];
    if (part === undefined || part === '') return undefined;
    if (s.kind === 'literal') {
      if (part !== s.value && decode(part) !== s.value) return undefined;
    } else {
      params[s.name] = decode(part);
    }
  }
  return parts.length === segments.length ? params : undefined;
}

const RANK = { literal: 3, param: 2, greedy: 1 } as const;

/** Negative when `a` is more specific than `b`. */
export function compareSpecificity(a: ParsedRouteKey, b: ParsedRouteKey): number {
  const ag = a.segments.some((s) => s.kind === 'greedy');
  const bg = b.segments.some((s) => s.kind === 'greedy');
  if (ag !== bg) return ag ? 1 : -1;
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = RANK[b.segments[i]!.kind] - RANK[a.segments[i]!.kind];
    if (d !== 0) return d;
  }
  // Greedy routes: the longer fixed prefix is the more specific.
  if (a.segments.length !== b.segments.length) return b.segments.length - a.segments.length;
  const am = a.method === 'ANY' ? 1 : 0;
  const bm = b.method === 'ANY' ? 1 : 0;
  return am - bm;
}
