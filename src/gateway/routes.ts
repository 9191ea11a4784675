import { EvdbError, invalidArgument } from '../core/errors.js';
import {
  OPERATIONS,
  OPERATION_NAMES,
  type HttpBinding,
  type OperationName,
  type OperationSpec,
} from '../protocol/operations.js';
import type { TSchema } from '@sinclair/typebox';

/** One HTTP route, derived from the operation table. */
export interface Route {
  method: HttpBinding['method'];
  /** e.g. `/stores/{storeId}/streams/{streamId}` */
  path: string;
  op: OperationName;
  spec: OperationSpec;
  /** The resource-style binding, or undefined for the `POST /rpc/{operation}` route. */
  binding: HttpBinding | undefined;
  segments: Segment[];
}

type Segment = { literal: string } | { param: string };

export const RPC_PREFIX = '/rpc/';

/** Every route: the resource-style ones first, then one RPC route per operation. */
export function buildRoutes(): Route[] {
  const routes: Route[] = [];
  for (const op of OPERATION_NAMES) {
    const spec: OperationSpec = OPERATIONS[op];
    if (spec.http !== undefined)
      routes.push(route(spec.http.method, spec.http.path, op, spec, spec.http));
  }
  for (const op of OPERATION_NAMES) {
    routes.push(route('POST', `${RPC_PREFIX}${op}`, op, OPERATIONS[op], undefined));
  }
  assertNoClashes(routes);
  return routes;
}

function route(
  method: HttpBinding['method'],
  path: string,
  op: OperationName,
  spec: OperationSpec,
  binding: HttpBinding | undefined,
): Route {
  const segments = path
    .split('/')
    .slice(1)
    .map((part): Segment => {
      const param = /^\{(\w+)\}$/.exec(part)?.[1];
      if (param === undefined) return { literal: part };
      if (!spec.params.some((p) => p.name === param)) {
        throw new Error(`route ${path} names {${param}}, which ${op} does not take`);
      }
      return { param };
    });
  return { method, path, op, spec, binding, segments };
}

function assertNoClashes(routes: Route[]): void {
  const seen = new Set<string>();
  for (const r of routes) {
    const key = `${r.method} ${r.segments.map((s) => ('literal' in s ? s.literal : '*')).join('/')}`;
    if (seen.has(key)) throw new Error(`two routes answer ${r.method} ${r.path}`);
    seen.add(key);
  }
}

export type RouteMatch =
  { route: Route; pathParams: Record<string, string> } | { allowed: string[] } | undefined;

/**
 * Finds the route of a request. `segments` are the URL-decoded path segments. Literal segments
 * win over parameters, so `/stores/{storeId}/streams` is never read as a stream id.
 */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  segments: string[],
): RouteMatch {
  const allowed: string[] = [];
  let best: { route: Route; pathParams: Record<string, string>; literals: number } | undefined;
  for (const r of routes) {
    if (r.segments.length !== segments.length) continue;
    const pathParams: Record<string, string> = {};
    let literals = 0;
    const ok = r.segments.every((segment, i) => {
      const actual = segments[i] as string;
      if ('literal' in segment) {
        literals++;
        return segment.literal === actual;
      }
      pathParams[segment.param] = actual;
      return true;
    });
    if (!ok) continue;
    if (r.method !== method) {
      allowed.push(r.method);
      continue;
    }
    if (best === undefined || literals > best.literals) best = { route: r, pathParams, literals };
  }
  if (best !== undefined) return { route: best.route, pathParams: best.pathParams };
  return allowed.length > 0 ? { allowed: [...new Set(allowed)] } : undefined;
}

/** Splits and URL-decodes a request path (without its query). */
export function pathSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .slice(1)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        throw invalidArgument(`the path segment ${JSON.stringify(part)} is not valid URL encoding`);
      }
    });
}

/**
 * The operation's named parameters from a resource-style request: path parameters, query
 * parameters (converted by the parameter's schema) and the JSON body's fields.
 */
export function restParams(
  r: Route,
  binding: HttpBinding,
  pathParams: Record<string, string>,
  query: URLSearchParams,
  body: unknown,
): Record<string, unknown> {
  const params: Record<string, unknown> = { ...pathParams };
  const bindings = binding.query ?? {};
  for (const key of new Set(query.keys())) {
    const target = bindings[key];
    if (target === undefined) {
      const known = Object.keys(bindings);
      throw invalidArgument(
        `unknown query parameter ${JSON.stringify(key)}${known.length > 0 ? `; this route takes ${known.join(', ')}` : ''}`,
      );
    }
    const values = query.getAll(key);
    if (values.length > 1) throw invalidArgument(`query parameter ${key} is given twice`);
  }
  for (const [key, target] of Object.entries(bindings)) {
    const raw = query.get(key) ?? target.default;
    if (raw === undefined) continue;
    const spec = r.spec.params.find((p) => p.name === target.param);
    // A query parameter that fills a field of an options object converts by the field's schema.
    const schema =
      target.field === undefined
        ? spec?.schema
        : (spec?.schema as { properties?: Record<string, TSchema> } | undefined)?.properties?.[
            target.field
          ];
    const value = typeof raw === 'string' ? fromQuery(raw, schema) : raw;
    if (target.field === undefined) params[target.param] = value;
    else {
      const holder = (params[target.param] ??= {}) as Record<string, unknown>;
      holder[target.field] = value;
    }
  }
  const bodyFields = binding.body ?? [];
  if (body !== undefined) {
    if (bodyFields.length === 0) throw invalidArgument(`${r.method} ${r.path} takes no body`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalidArgument(`the body must be a JSON object with ${bodyFields.join(', ')}`);
    }
    for (const [key, value] of Object.entries(body)) {
      if (!bodyFields.includes(key)) {
        throw invalidArgument(
          `unknown body field ${JSON.stringify(key)}; this route takes ${bodyFields.join(', ')}`,
        );
      }
      params[key] = value;
    }
  }
  return params;
}

/** Query strings are text: integers are converted; anything else stays text for the schema check. */
function fromQuery(raw: string, schema: TSchema | undefined): unknown {
  const type = (schema as { type?: unknown } | undefined)?.type;
  if (type === 'integer' && /^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

/** The RPC body: the operation's parameters by name. */
export function rpcParams(r: Route, body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidArgument(
      `the body of ${r.path} must be a JSON object of parameters: ${r.spec.params.map((p) => p.name).join(', ') || 'none'}`,
    );
  }
  return body as Record<string, unknown>;
}

/** The success answer of a route: status and body (undefined for no body). */
export function routeResponse(r: Route, result: unknown): { status: number; body: unknown } {
  const binding = r.binding;
  if (binding === undefined) return { status: 200, body: result === undefined ? {} : { result } };
  if (result === undefined) return { status: 204, body: undefined };
  return {
    status: binding.status ?? 200,
    body: binding.responseKey === undefined ? result : { [binding.responseKey]: result },
  };
}

/**
 * The text around the events of a route's answer given in parts: the answer's JSON is
 * `open`, the events, `close` — `{"result":[` and `]}` for the RPC route.
 */
export function partedEnvelope(r: Route): { status: number; open: string; close: string } {
  const key = r.binding === undefined ? 'result' : r.binding.responseKey;
  const status = r.binding?.status ?? 200;
  if (key === undefined) return { status, open: '[', close: ']' };
  return { status, open: `{${JSON.stringify(key)}:[`, close: ']}' };
}

export function methodNotAllowed(allowed: string[]): EvdbError {
  return new EvdbError('invalid_argument', `this path answers ${allowed.join(', ')} only`, {
    details: { reason: 'method_not_allowed', allowed },
  });
}
