// ServerFeatures.GetSupportedMethods and Gossip.Read: what the clients ask before anything else.
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
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

/**
 * This node as the only member, in state Leader: any evdb node serves any request (reads and
 * writes) of the stores it serves, so whichever node a client picks is a leader to it, and
 * `requires-leader` is always satisfied.
 */
export function gossipHandler(endpoint: () => { address: string; port: number }) {
  const instanceId = randomUUID();
  return (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    callback(null, {
      members: [
        {
          instance_id: uuidToWire(instanceId, true),
          time_stamp: ticksOf(Date.now() * 1000),
          state: 'Leader',
          is_alive: true,
          http_end_point: endpoint(),
        },
      ],
    });
  };
}
