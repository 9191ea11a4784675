// Loads the KurrentDB v1 protocol (the `.proto` files under ./protos, vendored from the
// Apache-2.0 KurrentDB Node client) for @grpc/grpc-js, and the few message encoders the
// adapter needs itself (the `google.protobuf.Any` details of BatchAppend errors).
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/** `npm run build` copies ./protos next to the compiled files, so this resolves in both places. */
const PROTOS_DIR = fileURLToPath(new URL('./protos', import.meta.url));
const V1 = 'kurrentdb/protocols/v1';
const FILES = ['streams', 'serverfeatures', 'gossip', 'persistentsubscriptions'].map(
  (name) => `${V1}/${name}.proto`,
);

export interface KurrentServices {
  streams: ServiceDefinition;
  serverFeatures: ServiceDefinition;
  gossip: ServiceDefinition;
  persistentSubscriptions: ServiceDefinition;
}

interface LoadedTree {
  [name: string]: LoadedTree & { service?: ServiceDefinition };
}

export function loadServices(): KurrentServices {
  const definition = loadSync(FILES, {
    includeDirs: [PROTOS_DIR],
    // Field names as the protocol spells them; 64-bit integers as decimal strings (revisions
    // and positions go up to 2^64 - 1); enums by name; the name of the set field of each oneof.
    keepCase: true,
    longs: String,
    enums: String,
    oneofs: true,
    defaults: false,
  });
  const tree = loadPackageDefinition(definition) as unknown as LoadedTree;
  const client = (tree.event_store as LoadedTree).client as LoadedTree;
  const service = (pkg: string, name: string): ServiceDefinition =>
    ((client[pkg] as LoadedTree)[name] as { service: ServiceDefinition }).service;
  return {
    streams: service('streams', 'Streams'),
    serverFeatures: service('server_features', 'ServerFeatures'),
    gossip: service('gossip', 'Gossip'),
    persistentSubscriptions: service('persistent_subscriptions', 'PersistentSubscriptions'),
  };
}

let sharedTypes: protobuf.Root | undefined;

/** A message of `event_store.client` (shared.proto) packed as a `google.protobuf.Any`. */
export function packShared(
  typeName: 'WrongExpectedVersion' | 'StreamDeleted' | 'AccessDenied' | 'Timeout' | 'Unknown',
  value: object,
): { type_url: string; value: Buffer } {
  if (sharedTypes === undefined) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) =>
      target.startsWith('google/') ? target : `${PROTOS_DIR}/${target}`;
    sharedTypes = root.loadSync(`${V1}/shared.proto`, { keepCase: true });
  }
  const type = sharedTypes.lookupType(`event_store.client.${typeName}`);
  return {
    type_url: `type.googleapis.com/event_store.client.${typeName}`,
    value: Buffer.from(type.encode(type.fromObject(value)).finish()),
  };
}
