import type { JsonValue } from '../../core/types.js';
import type { KvEntry, KvStore } from '../kv-store.js';
import { compareUtf8 } from '../../core/paging.js';

/**
 * The key-value store of a memory store, kept as JSON text so reads return fresh objects.
 * Leases need nothing here: memory stores live in one process, whose leases are
 * `ProcessLeases` (../process-leases.ts), as on SQLite.
 */
export class MemoryKv implements KvStore {
  /** Namespace → key → JSON text and revision. */
  private readonly kv = new Map<string, Map<string, { json: string; revision: number }>>();

  kvGet(namespace: string, key: string): Promise<KvEntry | undefined> {
    const entry = this.kv.get(namespace)?.get(key);
    return Promise.resolve(entry && toKvEntry(key, entry));
  }

  kvList(namespace: string): Promise<KvEntry[]> {
    const entries = [...(this.kv.get(namespace) ?? [])].sort(([a], [b]) => compareUtf8(a, b));
    return Promise.resolve(entries.map(([key, entry]) => toKvEntry(key, entry)));
  }

  kvPage(namespace: string, after: string | undefined, count: number): Promise<KvEntry[]> {
    // A memory store is small enough to sort a namespace for each page.
    const entries = [...(this.kv.get(namespace) ?? [])]
      .filter(([key]) => after === undefined || compareUtf8(key, after) > 0)
      .sort(([a], [b]) => compareUtf8(a, b))
      .slice(0, count);
    return Promise.resolve(entries.map(([key, entry]) => toKvEntry(key, entry)));
  }

  kvPut(
    namespace: string,
    key: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number | undefined> {
    let entries = this.kv.get(namespace);
    const current = entries?.get(key)?.revision ?? 0;
    if (expectedRevision !== undefined && expectedRevision !== current) {
      return Promise.resolve(undefined);
    }
    if (entries === undefined) {
      entries = new Map();
      this.kv.set(namespace, entries);
    }
    entries.set(key, { json: JSON.stringify(value), revision: current + 1 });
    return Promise.resolve(current + 1);
  }

  kvDelete(namespace: string, key: string, expectedRevision?: number): Promise<boolean> {
    const entries = this.kv.get(namespace);
    const entry = entries?.get(key);
    if (entries === undefined || entry === undefined) return Promise.resolve(false);
    if (expectedRevision !== undefined && expectedRevision !== entry.revision) {
      return Promise.resolve(false);
    }
    entries.delete(key);
    return Promise.resolve(true);
  }
}

function toKvEntry(key: string, entry: { json: string; revision: number }): KvEntry {
  return { key, value: JSON.parse(entry.json) as JsonValue, revision: entry.revision };
}
