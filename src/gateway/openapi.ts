import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../core/errors.js';
import { CALLS_PATH } from '../protocol/frames.js';
import { rpcBodySchema, type OperationSpec } from '../protocol/operations.js';
import { PROBLEM_CONTENT_TYPE } from '../protocol/wire.js';
import type { Route } from './routes.js';

/** Where the server serves the document, without a token (it holds no store data). */
export const OPENAPI_PATH = '/openapi.json';

/** The version of the evdb package this module belongs to (from source or compiled). */
export function packageVersion(): string {
  // From source: src/gateway → the root. Compiled: dist/src/gateway → the root.
  for (const path of ['../../package.json', '../../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === 'evdb' && typeof manifest.version === 'string') return manifest.version;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error('the evdb package.json was not found beside the gateway module');
}

type JsonSchema = Record<string, unknown>;
type OpenApiDocument = Record<string, unknown> & {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> };
};

const JSON_TYPE = 'application/json';

/**
 * The server's HTTP API as an OpenAPI 3.1 document, generated from the routes the server serves
 * (themselves built from the operation table): every operation at `POST /rpc/{operation}` and,
 * where it has one, at its resource-style route. The protocol's TypeBox schemas are JSON Schema,
 * which OpenAPI 3.1 takes as they are; schemas with a title become `components/schemas` entries.
 *
 * @param version the evdb version to report as the document's `info.version`.
 */
export function openApiDocument(routes: readonly Route[], version: string): OpenApiDocument {
  const components = new Components();
  const paths: OpenApiDocument['paths'] = {};
  const at = (path: string): Record<string, unknown> => (paths[path] ??= {});

  at('/health').get = {
    operationId: 'getHealth',
    summary: "The node's health: storage, stores, workers. Needs no token.",
    tags: ['server'],
    security: [],
    responses: {
      '200': { description: 'healthy', content: { [JSON_TYPE]: { schema: { type: 'object' } } } },
      '503': {
        description: 'unhealthy or shutting down',
        content: { [JSON_TYPE]: { schema: { type: 'object' } } },
      },
    },
  };
  at(OPENAPI_PATH).get = {
    operationId: 'getOpenApi',
    summary: 'This document. Needs no token.',
    tags: ['server'],
    security: [],
    responses: {
      '200': {
        description: 'the OpenAPI 3.1 document',
        content: { [JSON_TYPE]: { schema: { type: 'object' } } },
      },
    },
  };
  at(CALLS_PATH).post = {
    operationId: 'runCalls',
    summary: 'Runs several operations in one request; see the HTTP API reference.',
    tags: ['rpc'],
    requestBody: {
      required: true,
      content: { [JSON_TYPE]: { schema: { type: 'array', minItems: 1, items: callFrame() } } },
    },
    responses: {
      '200': {
        description: 'one result or error frame per call, in order',
        content: {
          [JSON_TYPE]: {
            schema: {
              type: 'object',
              properties: { result: { type: 'array', items: { type: 'object' } } },
            },
          },
        },
      },
      default: problemResponse(),
    },
  };

  for (const route of routes) {
    at(route.path)[route.method.toLowerCase()] =
      route.binding === undefined
        ? rpcOperation(route, components)
        : restOperation(route, components);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'evdb',
      version,
      description:
        'The HTTP API of an evdb server node. Every operation is reachable as ' +
        '`POST /rpc/{operation}` with its parameters by name; some also have a resource-style ' +
        'route. Errors are RFC 9457 problem documents with a stable `code`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [
      { name: 'rpc', description: 'Every operation by name, as the evdb client calls it.' },
      { name: 'resources', description: 'Resource-style routes of some operations.' },
      { name: 'server', description: 'The node itself.' },
    ],
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: components.schemas,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'Needed when the server has tokens; roles nest (read ⊂ write ⊂ admin) and a token ' +
            'may be limited to some stores.',
        },
      },
    } as OpenApiDocument['components'],
  };
}

function rpcOperation(route: Route, components: Components): Record<string, unknown> {
  const spec = route.spec;
  const returnsNothing = isNothing(spec.result);
  return {
    operationId: route.op,
    ...describe(route.op, spec),
    tags: ['rpc'],
    requestBody: {
      required: spec.params.some((p) => p.optional !== true),
      content: { [JSON_TYPE]: { schema: components.schema(rpcBodySchema(spec)) } },
    },
    responses: {
      '200': {
        description: returnsNothing ? 'done: `{}`' : 'the result, as `{"result": ...}`',
        content: {
          [JSON_TYPE]: {
            schema: returnsNothing
              ? { type: 'object', additionalProperties: false }
              : {
                  type: 'object',
                  properties: { result: components.schema(spec.result) },
                  required: ['result'],
                },
          },
        },
      },
      default: problemResponse(),
    },
  };
}

function restOperation(route: Route, components: Components): Record<string, unknown> {
  const spec = route.spec;
  const binding = route.binding!;
  const schemaOf = (name: string): JsonSchema => {
    const param = spec.params.find((p) => p.name === name);
    return param === undefined ? {} : components.schema(param.schema);
  };
  const parameters: Record<string, unknown>[] = [];
  for (const segment of route.segments) {
    if ('param' in segment) {
      parameters.push({
        name: segment.param,
        in: 'path',
        required: true,
        schema: schemaOf(segment.param),
      });
    }
  }
  for (const [name, target] of Object.entries(binding.query ?? {})) {
    const schema =
      target.field === undefined
        ? schemaOf(target.param)
        : fieldSchema(spec, target.param, target.field, components);
    parameters.push({
      name,
      in: 'query',
      required: false,
      schema: target.default === undefined ? schema : { ...schema, default: target.default },
      description:
        target.field === undefined
          ? `the \`${target.param}\` parameter`
          : `the \`${target.field}\` field of \`${target.param}\``,
    });
  }
  const bodyFields = binding.body ?? [];
  const operation: Record<string, unknown> = {
    operationId: `${route.op}Resource`,
    ...describe(route.op, spec),
    tags: ['resources'],
  };
  if (parameters.length > 0) operation.parameters = parameters;
  if (bodyFields.length > 0) {
    const required = bodyFields.filter(
      (name) => spec.params.find((p) => p.name === name)?.optional !== true,
    );
    operation.requestBody = {
      required: required.length > 0,
      content: {
        [JSON_TYPE]: {
          schema: {
            type: 'object',
            properties: Object.fromEntries(bodyFields.map((name) => [name, schemaOf(name)])),
            ...(required.length > 0 ? { required } : {}),
            additionalProperties: false,
          },
        },
      },
    };
  }
  const responses: Record<string, unknown> = { default: problemResponse() };
  if (isNothing(spec.result)) responses['204'] = { description: 'done, no body' };
  else {
    const result = components.schema(spec.result);
    responses[String(binding.status ?? 200)] = {
      description:
        binding.responseKey === undefined ? 'the result' : `\`{"${binding.responseKey}": result}\``,
      content: {
        [JSON_TYPE]: {
          schema:
            binding.responseKey === undefined
              ? result
              : {
                  type: 'object',
                  properties: { [binding.responseKey]: result },
                  required: [binding.responseKey],
                },
        },
      },
    };
  }
  operation.responses = responses;
  return operation;
}

/** The summary and the role a token needs, from the operation's table entry. */
function describe(op: string, spec: OperationSpec): Record<string, unknown> {
  const role = `Role: \`${spec.role}\`. ${spec.idempotent ? 'Idempotent.' : 'Not idempotent.'}`;
  return {
    summary: spec.summary ?? op,
    description: role,
    'x-evdb-role': spec.role,
    'x-evdb-idempotent': spec.idempotent,
  };
}

/** The schema of one field of an options parameter (a query parameter that fills it). */
function fieldSchema(
  spec: OperationSpec,
  param: string,
  field: string,
  components: Components,
): JsonSchema {
  const holder = spec.params.find((p) => p.name === param)?.schema as
    { properties?: Record<string, JsonSchema> } | undefined;
  const schema = holder?.properties?.[field];
  return schema === undefined ? {} : components.schema(schema);
}

function isNothing(schema: unknown): boolean {
  return (schema as { type?: unknown }).type === 'null';
}

function callFrame(): JsonSchema {
  return {
    type: 'object',
    properties: {
      type: { const: 'call' },
      id: { type: 'integer' },
      op: { type: 'string' },
      params: { type: 'object' },
    },
    required: ['type', 'id', 'op'],
  };
}

function problemResponse(): Record<string, unknown> {
  return {
    description: 'an error, as an RFC 9457 problem document',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}

const PROBLEM_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: [...ERROR_CODES] },
    details: { type: 'object' },
    retriable: { type: 'boolean' },
  },
  required: ['code', 'status', 'detail'],
};

// Keys whose value maps names to schemas, and keys whose value is data, not schemas.
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs']);
const DATA_KEYS = new Set(['enum', 'const', 'default', 'examples', 'example']);

/** The `components/schemas` of the document: every titled schema once, referred to by `$ref`. */
class Components {
  readonly schemas: Record<string, unknown> = { Problem: PROBLEM_SCHEMA };
  private readonly texts = new Map<string, string>();

  /** A plain JSON copy of a TypeBox schema, its titled parts replaced by references. */
  schema(schema: unknown): JsonSchema {
    return this.copy(schema, true) as JsonSchema;
  }

  private copy(node: unknown, isSchema: boolean): unknown {
    if (Array.isArray(node)) return node.map((item) => this.copy(item, isSchema));
    if (typeof node !== 'object' || node === null) return node;
    const record = node as Record<string, unknown>;
    if (isSchema && typeof record.title === 'string') return this.reference(record.title, record);
    return this.fields(record, isSchema);
  }

  private fields(record: Record<string, unknown>, isSchema: boolean): JsonSchema {
    const out: JsonSchema = {};
    // Object.entries leaves out TypeBox's symbol keys ([Kind], [OptionalKind]).
    for (const [key, value] of Object.entries(record)) {
      if (!isSchema || DATA_KEYS.has(key)) out[key] = value;
      else if (SCHEMA_MAPS.has(key) && typeof value === 'object' && value !== null) {
        out[key] = Object.fromEntries(
          Object.entries(value).map(([name, item]) => [name, this.copy(item, true)]),
        );
      } else out[key] = this.copy(value, true);
    }
    return out;
  }

  private reference(title: string, record: Record<string, unknown>): JsonSchema {
    const body = this.fields(record, true);
    const text = JSON.stringify(body);
    const known = this.texts.get(title);
    if (known === undefined) {
      this.texts.set(title, text);
      this.schemas[title] = body;
    } else if (known !== text) {
      throw new Error(`two different schemas are titled ${title}`);
    }
    return { $ref: `#/components/schemas/${title}` };
  }
}
