import { Type } from '@sinclair/typebox';
import { optionalParam, type OperationTable } from '../operation.js';
import { Integer, JsonObject, Nothing, P, StringList } from '../schemas.js';
import { StringEnum } from '../schema.js';

export const StoreConfig = Type.Object(
  { storeId: Type.String(), createdAt: Type.String(), settings: JsonObject() },
  { title: 'StoreConfig' },
);

const StoreStatus = Type.Object(
  {
    storeId: Type.String(),
    status: StringEnum(['open', 'closed']),
    backend: Type.String(),
    streamCount: Integer,
    totalEvents: Integer,
    lastPosition: Integer,
  },
  { title: 'StoreStatus' },
);

/** Creating, listing and removing stores. */
export const STORE_OPERATIONS = {
  createStore: {
    role: 'admin',
    idempotent: false,
    params: [P.storeId, optionalParam('settings', JsonObject())],
    result: StoreConfig,
    http: { method: 'PUT', path: '/stores/{storeId}', body: ['settings'], status: 201 },
  },
  removeStore: {
    role: 'admin',
    idempotent: false,
    params: [P.storeId],
    result: Nothing,
    http: { method: 'DELETE', path: '/stores/{storeId}' },
  },
  listStores: {
    summary: 'Store ids, sorted (only those the token may read).',
    role: 'read',
    idempotent: true,
    params: [],
    result: StringList(Number.MAX_SAFE_INTEGER),
    http: { method: 'GET', path: '/stores', responseKey: 'stores' },
    visibleTo: (storeIds, canSee) => storeIds.filter(canSee),
  },
  getStoreConfig: {
    summary: "The store's id, creation time and settings.",
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: StoreConfig,
    http: { method: 'GET', path: '/stores/{storeId}' },
  },
  getStoreStatus: {
    summary: 'Backend, stream and event counts, last position.',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: StoreStatus,
    http: { method: 'GET', path: '/stores/{storeId}/status' },
  },
} satisfies OperationTable<
  'createStore' | 'removeStore' | 'listStores' | 'getStoreConfig' | 'getStoreStatus'
>;
