/**
 * The route table's keys, `"GET /api/races/:id"`: a method and a path whose segments are literal
 * or a parameter (`:name`, exactly one non-empty segment, percent-decoded). A request's path is
 * matched against every key; when several match, the one with more literal segments wins, so
 * `/api/races/live` would beat `/api/races/:id`. Values a parameter or the query string carries
 * are text: `integerValue` reads the whole numbers routes take from them.
 */
import { HttpError } from './errors.js';

/** What a route gets from the request line besides its body. */
export interface RouteRequest {
  /** The path's parameters: `:id` in the route's key is `params.id`. */
  readonly params: Readonly<Record<string, string>>;
  /** The query string (only the names a route declares in its `query` reach it). */
  readonly query: URLSearchParams;
}

interface Pattern<T> {
  key: string;
  method: string;
  /** A literal segment, or `{ param }` for `:param`. */
  segments: Array<string | { param: string }>;
  literals: number;
  value: T;
}

export type Match<T> =
  | { found: true; key: string; value: T; params: Record<string, string> }
  /** No route for this method; `allow` lists the methods that have one for this path (maybe none). */
  | { found: false; allow: string[] };

const segmentsOf = (path: string): string[] => path.split('/').slice(1);

/** Compiles a table keyed by `"METHOD /path/:param"` once, and matches request paths against it. */
export class RouteTable<T> {
  private readonly patterns: Array<Pattern<T>>;

  constructor(routes: Readonly<Record<string, T>>) {
    this.patterns = Object.entries(routes).map(([key, value]) => {
      const [method, path] = key.split(' ') as [string, string];
      const segments = segmentsOf(path).map((segment) => {
        if (!segment.startsWith(':')) return segment;
        if (!/^:[a-z]\w*$/i.test(segment)) throw new Error(`route "${key}": bad parameter "${segment}"`);
        return { param: segment.slice(1) };
      });
      const literals = segments.filter((segment) => typeof segment === 'string').length;
      return { key, method, segments, literals, value };
    });
  }

  /** `path` as the URL parser gives it: no query, no trailing slash, still percent-encoded. */
  match(method: string, path: string): Match<T> {
    const segments = segmentsOf(path);
    let best: { pattern: Pattern<T>; params: Record<string, string> } | undefined;
    const allow = new Set<string>();
    for (const pattern of this.patterns) {
      const params = this.bind(pattern, segments);
      if (params === undefined) continue;
      if (pattern.method !== method) {
        allow.add(pattern.method);
        continue;
      }
      if (best === undefined || pattern.literals > best.pattern.literals) best = { pattern, params };
    }
    if (best === undefined) return { found: false, allow: [...allow] };
    return { found: true, key: best.pattern.key, value: best.pattern.value, params: best.params };
  }

  private bind(pattern: Pattern<T>, segments: string[]): Record<string, string> | undefined {
    if (pattern.segments.length !== segments.length) return undefined;
    const params: Record<string, string> = {};
    for (const [index, expected] of pattern.segments.entries()) {
      const segment = segments[index]!;
      if (typeof expected === 'string') {
        if (segment !== expected) return undefined;
        continue;
      }
      if (segment === '') return undefined;
      try {
        params[expected.param] = decodeURIComponent(segment);
      } catch {
        return undefined; // a malformed escape names no resource
      }
    }
    return params;
  }
}

/**
 * A whole number from a path parameter or query value (`what` names it in the error): digits
 * only, within `min` and `max`. Anything else is a 400 `bad_arguments`.
 */
export function integerValue(text: string, what: string, range: { min?: number; max?: number } = {}): number {
  const value = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value))
    throw new HttpError('bad_arguments', `${what} must be a whole number, got ${JSON.stringify(text.slice(0, 40))}`);
  if (range.min !== undefined && value < range.min)
    throw new HttpError('bad_arguments', `${what} must be at least ${range.min}`);
  if (range.max !== undefined && value > range.max)
    throw new HttpError('bad_arguments', `${what} must be at most ${range.max}`);
  return value;
}
