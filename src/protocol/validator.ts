import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { describe } from '../core/validation.js';
// The kinds registered there must be known before a schema using them is compiled.
import './schema.js';

/**
 * Schemas compiled once into validators (TypeBox's compiler), and a validator's first error
 * turned into a message that names the field, like every other `invalid_argument` of evdb.
 */

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerOf(schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check;
}

/** Why `value` does not match `schema` (naming the field from `path`), or undefined when it does. */
export function schemaError(schema: TSchema, value: unknown, path: string): string | undefined {
  const check = checkerOf(schema);
  if (check.Check(value)) return undefined;
  const error = check.Errors(value).First();
  return error === undefined ? `${path} is invalid` : errorMessage(error, path);
}

/** `/events/0/eventType` under `events` → `events[0].eventType`. */
function fieldOf(root: string, pointer: string): string {
  let field = root;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    field += /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
  }
  return field;
}

function parentOf(field: string): string {
  const cut = Math.max(field.lastIndexOf('.'), field.lastIndexOf('['));
  return cut > 0 ? field.slice(0, cut) : field;
}

const TYPE_NAMES: Partial<Record<ValueErrorType, string>> = {
  [ValueErrorType.String]: 'a string',
  [ValueErrorType.Integer]: 'an integer',
  [ValueErrorType.Number]: 'a number',
  [ValueErrorType.Boolean]: 'a boolean',
  [ValueErrorType.Null]: 'a null',
  [ValueErrorType.Array]: 'an array',
  [ValueErrorType.Object]: 'an object',
};

function errorMessage(error: ValueError, root: string): string {
  const field = fieldOf(root, error.path);
  const schema = error.schema as Record<string, unknown>;
  const value = error.value;
  const typeName = TYPE_NAMES[error.type];
  if (typeName !== undefined) return `${field} must be ${typeName}, got ${describe(value)}`;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return `${field} is required`;
    case ValueErrorType.ObjectAdditionalProperties: {
      const key = field.slice(parentOf(field).length + 1);
      return `${parentOf(field)} has an unknown property ${JSON.stringify(key)}`;
    }
    case ValueErrorType.Kind:
    case ValueErrorType.Literal:
      if (Array.isArray(schema.enum) || schema.const !== undefined) {
        const allowed = (schema.enum as unknown[] | undefined) ?? [schema.const];
        return `${field} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`;
      }
      break;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `${field} must be at least ${String(schema.minimum)}, got ${describe(value)}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `${field} must be at most ${String(schema.maximum)}, got ${describe(value)}`;
    case ValueErrorType.StringMinLength:
      return `${field} must have at least ${String(schema.minLength)} characters`;
    case ValueErrorType.StringMaxLength:
      return `${field} must have at most ${String(schema.maxLength)} characters, got ${(value as string).length}`;
    case ValueErrorType.ArrayMinItems:
      return `${field} must have at least ${String(schema.minItems)} items`;
    case ValueErrorType.ArrayMaxItems:
      return `${field} must have at most ${String(schema.maxItems)} items, got ${(value as unknown[]).length}`;
    case ValueErrorType.Union: {
      const firsts = error.errors
        .map((variant) => variant.First())
        .filter((first): first is ValueError => first !== undefined);
      const typeNames = firsts.map((first) =>
        first.path === error.path ? TYPE_NAMES[first.type] : undefined,
      );
      if (typeNames.length > 0 && typeNames.every((name) => name !== undefined)) {
        return `${field} must be ${typeNames.join(' or ')}, got ${describe(value)}`;
      }
      const options = firsts.map((first) => errorMessage(first, root));
      if (options.length > 0) return options.join('; or ');
      break;
    }
  }
  return `${field}: ${error.message}, got ${describe(value)}`;
}
