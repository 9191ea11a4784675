import type { JsonValue } from '../core/types.js';

/** One entry of a store's key-value facility. */
export interface KvEntry {
  key: string;
  value: JsonValue;
  /** 1 when the entry is created, one more at every write: what conditional writes compare. */
  revision: number;
}

/**
 * A small key-value facility beside a store's log, for what features above the backend keep
 * with the store (subscription definitions and checkpoints, link definitions, schemas, the
 * worker table). Keys live in namespaces; values are JSON, returned as fresh objects. Writes
 * are durable like commits.
 */
export interface KvStore {
  kvGet(namespace: string, key: string): Promise<KvEntry | undefined>;
  /** Entries of a namespace, sorted by key (by UTF-8 bytes). */
  kvList(namespace: string): Promise<KvEntry[]>;
  /**
   * Up to `count` entries of a namespace, sorted by key (by UTF-8 bytes), with keys after
   * `after` when given: a range of the key index, for lists read a page at a time.
   */
  kvPage(namespace: string, after: string | undefined, count: number): Promise<KvEntry[]>;
  /**
   * Writes an entry. With `expectedRevision`, atomically and only if the entry is at that
   * revision (0: only if it does not exist). Returns the new revision, or undefined when the
   * condition failed (nothing was written).
   */
  kvPut(
    namespace: string,
    key: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number | undefined>;
  /**
   * Removes an entry (with `expectedRevision`, only if it is at that revision). Returns false
   * when nothing was removed.
   */
  kvDelete(namespace: string, key: string, expectedRevision?: number): Promise<boolean>;
}
