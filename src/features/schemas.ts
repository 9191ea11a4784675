import { EvdbError, invalidArgument } from '../core/errors.js';
import type {
  SchemaInfo,
  SchemaPage,
  SchemaRegistration,
  SchemaValidator,
  Upcaster,
} from '../core/feature-types.js';
import type { EventRecord, JsonValue, ListOptions, StreamWrite } from '../core/types.js';
import { encodeCursor, pagingOptions } from '../core/paging.js';
import type { Store } from '../store/store.js';
import { LIMITS } from '../core/limits.js';
import { assertInteger, assertJson, describe } from '../core/validation.js';

/** The store's key-value namespace holding schema descriptions. */
const NAMESPACE = 'schemas';
/** How long reads that upcast automatically trust their copy of the descriptions. */
const DESCRIPTIONS_TTL_MS = 1000;
const MAX_SCHEMA_VERSION = 1_000_000;

interface PersistedSchema {
  version: number;
  description: string | null;
  registeredAt: string;
}

/** Code registered in this process for an event type. */
interface SchemaCode {
  /** The version the code was registered with: the validator checks data of this version. */
  version: number;
  upcasters: Map<number, Upcaster>;
  validate: SchemaValidator | undefined;
}

/**
 * One store's schema registry. Descriptions (type, version, description) are persisted with the
 * store, so every process and client sees them; upcasters and validators are code, kept in the
 * process that registered them. Upcasting goes to the persisted version one step at a time; a
 * step without an upcaster here is an error (`not_found`), never skipped.
 */
export class SchemaRegistry {
  private readonly code = new Map<string, SchemaCode>();
  private descriptions: { loadedAt: number; byType: Map<string, PersistedSchema> } | undefined;

  constructor(private readonly store: Store) {}

  /** True when code (upcasters, validators) was registered here: it lives only in this object. */
  get holdsCode(): boolean {
    return this.code.size > 0;
  }

  async register(eventType: string, definition: SchemaRegistration): Promise<SchemaInfo> {
    assertEventType(eventType);
    if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
      throw invalidArgument(
        'the schema must be an object { version, description?, upcasters?, validate? }',
      );
    }
    const version = assertInteger('version', definition.version, 1, MAX_SCHEMA_VERSION);
    const description = definition.description ?? null;
    if (description !== null) {
      if (typeof description !== 'string') throw invalidArgument('description must be a string');
      if (description.length > LIMITS.maxSchemaDescriptionLength) {
        throw invalidArgument(
          `description is longer than ${LIMITS.maxSchemaDescriptionLength} characters`,
        );
      }
    }
    const upcasters = upcasterMap(definition.upcasters, version);
    const validate = definition.validate;
    if (validate !== undefined && typeof validate !== 'function') {
      throw invalidArgument(`validate must be a function, got ${describe(validate)}`);
    }
    this.store.assertOpen();
    const stored: PersistedSchema = {
      version,
      description,
      registeredAt: new Date().toISOString(),
    };
    await this.store.log.kvPut(NAMESPACE, eventType, { ...stored });
    // A registration without code (e.g. from a client) updates the description and keeps the
    // code this process has; one with code replaces it.
    if (definition.upcasters !== undefined || validate !== undefined) {
      this.code.set(eventType, { version, upcasters, validate });
    }
    this.descriptions = undefined;
    return this.info(eventType, stored);
  }

  async get(eventType: string): Promise<SchemaInfo> {
    assertEventType(eventType);
    return this.info(eventType, await this.load(eventType));
  }

  /** Every schema, up to `LIMITS.maxUnpagedSchemas` (the deprecated whole list). */
  async list(): Promise<SchemaInfo[]> {
    this.store.assertOpen();
    const max = LIMITS.maxUnpagedSchemas;
    const entries = await this.store.log.kvPage(NAMESPACE, undefined, max + 1);
    if (entries.length > max) {
      throw invalidArgument(
        `store ${this.store.storeId} has more than ${max} schemas, too many for one array: page through them with listSchemaPage(storeId, { after, limit })`,
      );
    }
    return entries.map((entry) => this.info(entry.key, entry.value as unknown as PersistedSchema));
  }

  /** One page of the schemas, by event type. */
  async page(options: ListOptions | undefined): Promise<SchemaPage> {
    // An event type is at most maxEventTypeLength UTF-16 units: 3 bytes of UTF-8 each at most.
    const { after, limit } = pagingOptions(options, 3 * LIMITS.maxEventTypeLength);
    this.store.assertOpen();
    const entries = await this.store.log.kvPage(NAMESPACE, after, limit + 1);
    const page = entries.slice(0, limit);
    const last = page[limit - 1];
    return {
      schemas: page.map((entry) => this.info(entry.key, entry.value as unknown as PersistedSchema)),
      next: entries.length > limit && last !== undefined ? encodeCursor(last.key) : null,
    };
  }

  async version(eventType: string): Promise<number> {
    assertEventType(eventType);
    return (await this.load(eventType)).version;
  }

  async unregister(eventType: string): Promise<void> {
    assertEventType(eventType);
    this.store.assertOpen();
    const removed = await this.store.log.kvDelete(NAMESPACE, eventType);
    this.code.delete(eventType);
    this.descriptions = undefined;
    if (!removed) throw missing(this.store.storeId, eventType);
  }

  /**
   * Upcasts events to their types' registered versions. `fresh`: read the descriptions now
   * (an explicit `upcastEvents`); otherwise a copy at most a second old will do (reads).
   */
  async upcast(events: readonly EventRecord[], fresh: boolean): Promise<EventRecord[]> {
    if (events.length === 0) return [];
    const schemas = fresh
      ? await this.loadTypes(new Set(events.map((event) => event.eventType)))
      : await this.cachedDescriptions();
    if (schemas.size === 0) return [...events];
    return events.map((event, i) => {
      const schema = schemas.get(event.eventType);
      return schema === undefined ? event : this.upcastOne(event, schema.version, i);
    });
  }

  /**
   * Checks every event whose type has a validator in this process: its data, upcast to the
   * validator's version, must pass. Throws `invalid_argument` naming the first failure.
   */
  validateWrites(writes: readonly StreamWrite[]): void {
    if (this.code.size === 0) return;
    writes.forEach((write, w) => {
      write.events.forEach((event, e) => {
        const code = this.code.get(event.eventType);
        if (code?.validate === undefined) return;
        const path = writes.length > 1 ? `writes[${w}].events[${e}]` : `events[${e}]`;
        if (event.data instanceof Uint8Array) {
          throw invalidArgument(
            `${path}: ${event.eventType} has a validator; its data must be JSON`,
          );
        }
        const from = schemaVersionOf(event.metadata?.schemaVersion, path);
        if (from > code.version) {
          throw invalidArgument(
            `${path} has schema version ${from} of ${event.eventType}; this process validates version ${code.version}`,
            { eventType: event.eventType, schemaVersion: from },
          );
        }
        const data = this.steps(event.eventType, event.data, from, code.version, path);
        const verdict = code.validate(data);
        if (verdict !== true) {
          throw invalidArgument(
            `${path} does not match schema ${event.eventType} v${code.version}: ${typeof verdict === 'string' ? verdict : 'invalid'}`,
            { eventType: event.eventType, version: code.version },
          );
        }
      });
    });
  }

  /** Forgets the copy of the descriptions (memory pressure). */
  clearCache(): void {
    this.descriptions = undefined;
  }

  private upcastOne(event: EventRecord, target: number, index: number): EventRecord {
    const path = `event ${event.eventId}`;
    const from = schemaVersionOf(event.metadata.schemaVersion, path);
    if (from >= target) return event;
    if (event.data instanceof Uint8Array) {
      throw invalidArgument(`${path} (index ${index}) has binary data, which cannot be upcast`);
    }
    const data = this.steps(event.eventType, event.data, from, target, path);
    return { ...event, data, metadata: { ...event.metadata, schemaVersion: target } };
  }

  /** Applies the upcasters from `from` to `to`, one version at a time. */
  private steps(
    eventType: string,
    data: JsonValue,
    from: number,
    to: number,
    path: string,
  ): JsonValue {
    let current = data;
    for (let step = from; step < to; step++) {
      const upcaster = this.code.get(eventType)?.upcasters.get(step);
      if (upcaster === undefined) {
        throw new EvdbError(
          'not_found',
          `no upcaster from version ${step} to ${step + 1} of ${eventType} in this process (upcasting ${path} from ${from} to ${to})`,
          { details: { storeId: this.store.storeId, eventType, fromVersion: step, toVersion: to } },
        );
      }
      current = upcaster(structuredClone(current));
      assertJson(current, `the upcaster from version ${step} of ${eventType}'s result`);
    }
    return current;
  }

  private info(eventType: string, stored: PersistedSchema): SchemaInfo {
    const code = this.code.get(eventType);
    return {
      eventType,
      version: stored.version,
      description: stored.description,
      registeredAt: stored.registeredAt,
      upcasters: [...(code?.upcasters.keys() ?? [])].sort((a, b) => a - b),
      validates: code?.validate !== undefined,
    };
  }

  private async load(eventType: string): Promise<PersistedSchema> {
    this.store.assertOpen();
    const entry = await this.store.log.kvGet(NAMESPACE, eventType);
    if (entry === undefined) throw missing(this.store.storeId, eventType);
    return entry.value as unknown as PersistedSchema;
  }

  private async loadTypes(types: Set<string>): Promise<Map<string, PersistedSchema>> {
    this.store.assertOpen();
    const found = new Map<string, PersistedSchema>();
    for (const type of types) {
      const entry = await this.store.log.kvGet(NAMESPACE, type);
      if (entry !== undefined) found.set(type, entry.value as unknown as PersistedSchema);
    }
    return found;
  }

  private async cachedDescriptions(): Promise<Map<string, PersistedSchema>> {
    const now = Date.now();
    if (this.descriptions === undefined || now - this.descriptions.loadedAt > DESCRIPTIONS_TTL_MS) {
      this.store.assertOpen();
      const entries = await this.store.log.kvList(NAMESPACE);
      this.descriptions = {
        loadedAt: now,
        byType: new Map(
          entries.map((entry) => [entry.key, entry.value as unknown as PersistedSchema]),
        ),
      };
    }
    return this.descriptions.byType;
  }
}

function assertEventType(eventType: unknown): asserts eventType is string {
  if (
    typeof eventType !== 'string' ||
    eventType.length === 0 ||
    eventType.length > LIMITS.maxEventTypeLength ||
    eventType.includes('\u0000')
  ) {
    throw invalidArgument(
      `eventType must be a non-empty string of at most ${LIMITS.maxEventTypeLength} characters, got ${describe(eventType)}`,
    );
  }
}

function upcasterMap(upcasters: unknown, version: number): Map<number, Upcaster> {
  const map = new Map<number, Upcaster>();
  if (upcasters === undefined) return map;
  if (typeof upcasters !== 'object' || upcasters === null || Array.isArray(upcasters)) {
    throw invalidArgument('upcasters must be an object { [fromVersion]: (data) => data }');
  }
  for (const [key, upcaster] of Object.entries(upcasters)) {
    const from = Number(key);
    if (!Number.isSafeInteger(from) || from < 1 || from >= version) {
      throw invalidArgument(
        `upcasters: ${JSON.stringify(key)} is not a version from 1 to ${version - 1} (an upcaster turns version n into n + 1)`,
      );
    }
    if (typeof upcaster !== 'function') {
      throw invalidArgument(`upcasters[${key}] must be a function, got ${describe(upcaster)}`);
    }
    map.set(from, upcaster as Upcaster);
  }
  return map;
}

/** An event's schema version: `metadata.schemaVersion`, default 1. */
function schemaVersionOf(value: unknown, path: string): number {
  if (value === undefined) return 1;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw invalidArgument(
      `${path}: metadata.schemaVersion must be an integer >= 1, got ${describe(value)}`,
    );
  }
  return value as number;
}

function missing(storeId: string, eventType: string): EvdbError {
  return new EvdbError('not_found', `no schema for ${eventType} in store '${storeId}'`, {
    details: { storeId, eventType },
  });
}
