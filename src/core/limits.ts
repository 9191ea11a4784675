/**
 * Every limit evdb enforces at its boundary, in one table: the store, the features, the
 * subscriptions and the protocol's schemas all read it. Exceeding one is an `invalid_argument`
 * error that names the limit; nothing is truncated silently. Browser-safe.
 */
export const LIMITS = Object.freeze({
  storeIdPattern: /^[a-z0-9][a-z0-9_-]{0,47}$/,
  maxStoreIdLength: 48,
  maxStreamIdBytes: 1024,
  /** Names and ids given as strings (snapshot sources, subscriptions, links, causation ids). */
  maxNameBytes: 1024,
  maxEventTypeLength: 256,
  maxTagsPerEvent: 64,
  maxTagLength: 256,
  maxIdLength: 256,
  maxContentTypeLength: 256,
  maxEventsPerAppend: 10_000,
  maxWritesPerBatch: 1_000,
  /** Serialised data plus metadata of one event. */
  maxEventBytes: 4 * 1024 * 1024,
  /** Serialised data plus metadata of all events of one append or batch. */
  maxAppendBytes: 64 * 1024 * 1024,
  maxReadCount: 100_000,
  maxJsonDepth: 100,
  maxQueryKeys: 100,
  /** Serialised data plus metadata of one snapshot. */
  maxSnapshotBytes: 16 * 1024 * 1024,
  maxSchemaDescriptionLength: 4096,
  maxGraphNodes: 100_000,
  maxUpcastEvents: 100_000,
  /** Subscription selectors and link patterns. */
  maxSelectorDepth: 32,
  maxSelectorBytes: 64 * 1024,
  maxSelectorTags: 100,
  /** Items of one page of a list (`listStreams` and the other paged lists). */
  maxListLimit: 10_000,
  /**
   * Ids a page of a filtered list looks at before it answers (maybe short, with a cursor to go
   * on): what keeps a rare pattern from costing the whole list in one call.
   */
  maxListScan: 100_000,
  /** The most stream ids `getStreams` answers in one array; past it, page with `listStreams`. */
  maxUnpagedStreams: 100_000,
  /** The most summaries `listAllSnapshots` answers in one array; past it, page with `listSnapshotPage`. */
  maxUnpagedSnapshots: 100_000,
  /** The most subscriptions `getSubscriptions` and `listStoreSubscriptions` answer in one array. */
  maxUnpagedSubscriptions: 100_000,
  /** The most links `listLinks` answers in one array; past it, page with `listLinkPage`. */
  maxUnpagedLinks: 100_000,
  /** The most schemas `listSchemas` answers in one array; past it, page with `listSchemaPage`. */
  maxUnpagedSchemas: 100_000,
  /** The most keys `listArchives` answers in one array; past it, page with `listArchivePage`. */
  maxUnpagedArchives: 100_000,
});

/** Events per page when a read does not say how many. */
export const DEFAULT_PAGE_SIZE = 1000;
/** Items per page of a list when the caller does not say how many. */
export const DEFAULT_LIST_LIMIT = 1000;
/** Events a temporal query returns when it does not say how many. */
export const DEFAULT_TEMPORAL_LIMIT = 1000;
/** Nodes of a causation graph when the caller does not say how many. */
export const DEFAULT_GRAPH_NODES = 10_000;
