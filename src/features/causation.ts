import { EvdbError } from '../core/errors.js';
import type {
  CausationGraph,
  CausationGraphOptions,
  CausationNode,
} from '../core/feature-types.js';
import type { EventRecord } from '../core/types.js';
import type { IndexQuery } from '../backends/event-log.js';
import type { Store } from '../store/store.js';
import { DEFAULT_GRAPH_NODES, LIMITS } from '../core/limits.js';
import { assertInteger, optionsObject, storedId } from '../core/validation.js';
import type { MemoryMonitor } from './memory-monitor.js';

/** Events read per index query while collecting all effects or correlated events. */
const PAGE = 1000;

/** Events caused by `eventId` (their `causationId` is it), in global order. */
export function getEffects(
  store: Store,
  memory: MemoryMonitor,
  eventId: string,
): Promise<EventRecord[]> {
  const causationId = storedId('eventId', eventId);
  return readAllOf(store, memory, { kind: 'causation', causationId }, Infinity);
}

/** Events sharing a correlation id, in global order. */
export function getCorrelated(
  store: Store,
  memory: MemoryMonitor,
  correlationId: string,
): Promise<EventRecord[]> {
  const key = storedId('correlationId', correlationId);
  return readAllOf(store, memory, { kind: 'correlation', correlationId: key }, Infinity);
}

/**
 * The event that caused `eventId`: null when it names no cause, or a cause this store does not
 * hold (an outside command, a scavenged event). `not_found` when the event itself is missing.
 */
export async function getCause(store: Store, eventId: string): Promise<EventRecord | null> {
  const event = await findEvent(store, storedId('eventId', eventId), true);
  if (event?.causationId === undefined) return null;
  return (await findEvent(store, event.causationId, false)) ?? null;
}

/**
 * The chain of causes from the root down to `eventId`. It ends at an event without a (stored)
 * cause; on a cycle it stops before the first repeat, so it always terminates.
 */
export async function getCausationChain(store: Store, eventId: string): Promise<EventRecord[]> {
  const event = (await findEvent(store, storedId('eventId', eventId), true)) as EventRecord;
  const chain = [event];
  const seen = new Set([event.eventId]);
  let current = event;
  while (current.causationId !== undefined && !seen.has(current.causationId)) {
    const cause = await findEvent(store, current.causationId, false);
    if (cause === undefined) break;
    seen.add(cause.eventId);
    chain.push(cause);
    current = cause;
  }
  return chain.reverse();
}

/**
 * The graph around `id`. When events carry `id` as their correlation id, the graph is those
 * events; otherwise `id` is an event id and the graph is everything its root cause led to
 * (the root found by following causes up, then effects followed down, each event once).
 */
export async function buildCausationGraph(
  store: Store,
  memory: MemoryMonitor,
  id: string,
  options: CausationGraphOptions | undefined,
): Promise<CausationGraph> {
  const key = storedId('id', id);
  const maxNodes = assertInteger(
    'maxNodes',
    optionsObject(options).maxNodes ?? DEFAULT_GRAPH_NODES,
    1,
    LIMITS.maxGraphNodes,
  );
  const correlated = await readAllOf(
    store,
    memory,
    { kind: 'correlation', correlationId: key },
    maxNodes + 1,
  );
  if (correlated.length > 0) {
    const nodes = correlated.slice(0, maxNodes);
    const ids = new Set(nodes.map((event) => event.eventId));
    const root =
      nodes.find((event) => event.causationId === undefined || !ids.has(event.causationId)) ??
      nodes[0];
    return graphOf(nodes, root?.eventId ?? null, correlated.length > maxNodes);
  }

  const [root] = await getCausationChain(store, key);
  const reached = new Map<string, EventRecord>();
  let frontier = [root as EventRecord];
  reached.set((root as EventRecord).eventId, root as EventRecord);
  let truncated = false;
  while (frontier.length > 0 && !truncated) {
    const next: EventRecord[] = [];
    for (const cause of frontier) {
      const effects = await readAllOf(
        store,
        memory,
        { kind: 'causation', causationId: cause.eventId },
        maxNodes + 1,
      );
      for (const effect of effects) {
        if (reached.has(effect.eventId)) continue;
        if (reached.size >= maxNodes) {
          truncated = true;
          break;
        }
        reached.set(effect.eventId, effect);
        next.push(effect);
      }
      if (truncated) break;
    }
    frontier = next;
  }
  const nodes = [...reached.values()].sort((a, b) => a.position - b.position);
  return graphOf(nodes, (root as EventRecord).eventId, truncated);
}

function graphOf(events: EventRecord[], root: string | null, truncated: boolean): CausationGraph {
  const ids = new Set(events.map((event) => event.eventId));
  const nodes: CausationNode[] = events.map((event) => {
    const node: CausationNode = {
      eventId: event.eventId,
      eventType: event.eventType,
      streamId: event.streamId,
      version: event.version,
      position: event.position,
      epochUs: event.epochUs,
    };
    if (event.causationId !== undefined) node.causationId = event.causationId;
    if (event.correlationId !== undefined) node.correlationId = event.correlationId;
    return node;
  });
  const edges = events
    .filter((event) => event.causationId !== undefined && ids.has(event.causationId))
    .map((event) => ({ from: event.causationId as string, to: event.eventId }));
  return { root, nodes, edges, truncated };
}

/**
 * A causation graph in Graphviz DOT, for `dot -Tsvg`: one node per event labelled with its type
 * and `stream@version`, one arrow from each cause to its effect.
 *
 * @example
 * writeFileSync('order.dot', causationGraphToDot(await evdb.buildCausationGraph('shop', id)));
 */
export function causationGraphToDot(graph: CausationGraph): string {
  const quote = (text: string): string =>
    `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  const lines = ['digraph causation {', '  rankdir=LR;', '  node [shape=box];'];
  for (const node of graph.nodes) {
    const label = `${node.eventType}\n${node.streamId}@${node.version}`;
    const style = node.eventId === graph.root ? ', style=bold' : '';
    lines.push(`  ${quote(node.eventId)} [label=${quote(label)}${style}];`);
  }
  for (const edge of graph.edges) lines.push(`  ${quote(edge.from)} -> ${quote(edge.to)};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** One event by id (outside link streams); `not_found` when `required` and missing. */
async function findEvent(
  store: Store,
  eventId: string,
  required: boolean,
): Promise<EventRecord | undefined> {
  store.assertOpen();
  const [event] = await store.log.readEventsById([eventId]);
  if (event === undefined && required) {
    throw new EvdbError('not_found', `no event ${eventId} in store '${store.storeId}'`, {
      details: { storeId: store.storeId, eventId },
    });
  }
  return event;
}

/** Every event of an index key (up to `limit`), read in pages sized for the memory level. */
async function readAllOf(
  store: Store,
  memory: MemoryMonitor,
  query: IndexQuery,
  limit: number,
): Promise<EventRecord[]> {
  const all: EventRecord[] = [];
  let from = 0;
  while (all.length < limit) {
    const page = Math.min(memory.batchSize(PAGE), limit - all.length);
    store.assertOpen();
    const events = await store.log.readIndex(query, from, page);
    all.push(...events);
    if (events.length < page) break;
    from = (events[events.length - 1] as EventRecord).position + 1;
  }
  return all;
}
