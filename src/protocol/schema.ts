import { describe, isPlainObject } from '../core/validation.js';

/**
 * The subset of JSON Schema that evdb's HTTP API is described with. The same objects drive
 * request validation in the gateway and the generated reference (`docs/http-api.md`), so the
 * documentation cannot drift from what the server accepts.
 */
export interface JsonSchema {
  /** Names a shared schema; the reference lists it once and refers to it by name. */
  title?: string;
  description?: string;
  type?: SchemaType | SchemaType[];
  enum?: readonly (string | number | boolean | null)[];
  /** Integers and numbers. */
  minimum?: number;
  maximum?: number;
  /** Strings, in UTF-16 code units (byte limits are checked by the store). */
  minLength?: number;
  maxLength?: number;
  /** Arrays. */
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  /** Objects. */
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  /** `false` rejects unknown keys; default: unknown keys are allowed. */
  additionalProperties?: boolean | JsonSchema;
  anyOf?: readonly JsonSchema[];
  /** Accepts a `Uint8Array` (after the wire decoding of `{"$bytes": base64}`). */
  bytes?: true;
}

export type SchemaType = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null';

/** Why `value` does not match `schema`, or undefined when it does. */
export function schemaError(schema: JsonSchema, value: unknown, path: string): string | undefined {
  if (schema.anyOf !== undefined) {
    const errors = schema.anyOf.map((option) => schemaError(option, value, path));
    if (errors.some((error) => error === undefined)) return undefined;
    return errors.join('; or ');
  }
  if (schema.bytes === true && value instanceof Uint8Array) return undefined;
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => hasType(value, type))) {
      return `${path} must be ${types.map(article).join(' or ')}, got ${describe(value)}`;
    }
  }
  if (schema.enum !== undefined && !schema.enum.includes(value as string)) {
    return `${path} must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`;
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      return `${path} must be at least ${schema.minimum}, got ${value}`;
    if (schema.maximum !== undefined && value > schema.maximum)
      return `${path} must be at most ${schema.maximum}, got ${value}`;
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      return `${path} must have at least ${schema.minLength} characters`;
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      return `${path} must have at most ${schema.maxLength} characters, got ${value.length}`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      return `${path} must have at least ${schema.minItems} items`;
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      return `${path} must have at most ${schema.maxItems} items, got ${value.length}`;
    if (schema.items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const error = schemaError(schema.items, value[i], `${path}[${i}]`);
        if (error !== undefined) return error;
      }
    }
  } else if (isPlainObject(value)) {
    for (const key of schema.required ?? []) {
      if (!(key in value) || value[key] === undefined) return `${path}.${key} is required`;
    }
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      const property = schema.properties?.[key];
      if (property !== undefined) {
        const error = schemaError(property, item, `${path}.${key}`);
        if (error !== undefined) return error;
      } else if (schema.additionalProperties === false) {
        return `${path} has an unknown property ${JSON.stringify(key)}`;
      } else if (typeof schema.additionalProperties === 'object') {
        const error = schemaError(schema.additionalProperties, item, `${path}.${key}`);
        if (error !== undefined) return error;
      }
    }
  }
  return undefined;
}

function hasType(value: unknown, type: SchemaType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isSafeInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isPlainObject(value);
  }
}

function article(type: SchemaType): string {
  return type === 'integer' || type === 'object' || type === 'array' ? `an ${type}` : `a ${type}`;
}
