// ServerFeatures.GetSupportedMethods and Gossip.Read: what the clients ask before anything else.
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import type { WorkerInfo } from '../../core/workers.js';
import { toGrpcError } from './errors.js';
import { ticksOf, uuidToWire } from './wire.js';

/**
 * The KurrentDB protocol level this adapter speaks, reported as the server version: the
 * clients choose code paths by it (caught-up messages from 23.10 on, for example). It is not
 * evdb's own version.
 */
export const PROTOCOL_VERSION = '24.10.0';

const STREAMS = 'event_store.client.streams.streams';

/** Exactly the methods this adapter implements, lower-cased as KurrentDB lists them. */
export const SUPPORTED_METHODS = [
  { method_name: 'read', service_name: STREAMS, features: ['position', 'events'] },
  { method_name: 'append', service_name: STREAMS, features: [] },
  { method_name: 'batchappend', service_name: STREAMS, features: ['deadline_duration'] },
  { method_name: 'delete', service_name: STREAMS, features: [] },
  { method_name: 'tombstone', service_name: STREAMS, features: [] },
  {
    method_name: 'getsupportedmethods',
    service_name: 'event_store.client.server_features.serverfeatures',
    features: [],
  },
  { method_name: 'read', service_name: 'event_store.client.gossip.gossip', features: [] },
  // Both stream and $all groups, so the clients use gRPC for every one of these (and never
  // fall back to KurrentDB's HTTP API).
  ...[
    'create',
    'update',
    'delete',
    'read',
    'getinfo',
    'replayparked',
    'list',
    'restartsubsystem',
  ].map((method_name) => ({
    method_name,
    service_name: 'event_store.client.persistent_subscriptions.persistentsubscriptions',
    features: ['stream', 'all'],
  })),
];

export function supportedMethodsHandler() {
  return (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    callback(null, { methods: SUPPORTED_METHODS, event_store_server_version: PROTOCOL_VERSION });
  };
}

/** The parts of evdb gossip reads: this node, and the live workers of a store. */
export interface GossipSource {
  readonly node: { nodeId: string };
  getWorkers(storeId: string): Promise<WorkerInfo[]>;
}

interface GossipMember {
  nodeId: string;
  lastHeartbeat: number;
  address: string;
  port: number;
}

/**
 * The live evdb nodes that serve a KurrentDB endpoint, as the workers of the endpoint's
 * default store (the clients' gossip call names no store: the grpc-js half sends no
 * `connection-name` with it). This node is always one, even before its entry is written.
 *
 * Exactly one member is `Leader`, the same whichever node is asked: the write owner of the
 * default store (the node that commits its appends; asking takes the lease when nobody holds
 * it), or, when the owner serves no KurrentDB endpoint, the member with the smallest node id.
 * The others are `Follower`s. Any evdb node serves reads and writes, so `requires-leader` is
 * never refused; the leader is where a client given several nodes sends everything (both
 * halves of the Node client then use one node, whose appends need no forwarding and whose
 * persistent-subscription consumers share one delivery).
 */
export function gossipHandler(
  source: GossipSource,
  defaultStore: string,
  endpoint: () => { address: string; port: number },
) {
  return (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    gossipMembers(source, defaultStore, endpoint()).then(
      (members) => callback(null, { members }),
      (error: unknown) => callback(toGrpcError(error)),
    );
  };
}

async function gossipMembers(
  source: GossipSource,
  defaultStore: string,
  self: { address: string; port: number },
): Promise<unknown[]> {
  const selfId = source.node.nodeId;
  const workers = await source.getWorkers(defaultStore);
  const members = new Map<string, GossipMember>([
    [selfId, { nodeId: selfId, lastHeartbeat: Date.now(), ...self }],
  ]);
  for (const worker of workers) {
    if (worker.nodeId === selfId || worker.kurrentEndpoint === undefined) continue;
    const endpoint = parseEndpoint(worker.kurrentEndpoint);
    if (endpoint !== undefined) members.set(worker.nodeId, { ...worker, ...endpoint });
  }
  const owner = workers.find((worker) => worker.writeOwner === true)?.nodeId;
  const leader = owner !== undefined && members.has(owner) ? owner : [...members.keys()].sort()[0];
  return [...members.values()].map((member) => ({
    instance_id: uuidToWire(instanceIdOf(member.nodeId), true),
    time_stamp: ticksOf(member.lastHeartbeat * 1000),
    state: member.nodeId === leader ? 'Leader' : 'Follower',
    is_alive: true,
    http_end_point: { address: member.address, port: member.port },
  }));
}

/** `host:port`, `[v6]:port`, as a worker entry holds its KurrentDB endpoint. */
function parseEndpoint(text: string): { address: string; port: number } | undefined {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { address: text.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
}

/** A node's instance id: a UUID derived from its node id, the same on every node and call. */
function instanceIdOf(nodeId: string): string {
  const hex = createHash('sha256').update(nodeId).digest('hex');
  // Version 8 (custom) and the RFC variant bits, so that it is a well-formed UUID.
  const variant = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
