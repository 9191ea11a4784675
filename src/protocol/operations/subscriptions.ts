import { Type } from '@sinclair/typebox';
import { optionalParam, param, type OperationTable } from '../operation.js';
import { EventRecord, Integer, ListOptions, Nothing, Nullable, P } from '../schemas.js';
import { StringEnum } from '../schema.js';

export const SubscriptionName = param('name', Type.String({ minLength: 1 }));

const SubscriptionType = StringEnum([
  'by_stream',
  'by_event_type',
  'by_event_pattern',
  'by_event_payload',
  'by_tags',
]);

const Selector = Type.Union([Type.String(), Type.Object({})], {
  title: 'SubscriptionSelector',
  description:
    'by_stream: a stream id or $all; by_event_type: a type; by_event_pattern and by_event_payload: an object; by_tags: {tags, match?}',
});

const StartFrom = Type.Union([Type.Integer(), Type.String()], {
  description: "a global position (0: the beginning), or 'current' (or -1): only later events",
});

const SubscriptionInfo = Type.Object(
  {
    name: Type.String(),
    type: SubscriptionType,
    selector: Selector,
    startFrom: StartFrom,
    createdAt: Type.String(),
    checkpoint: Type.Integer({ description: 'acknowledged up to this global position (-1: none)' }),
    leaseHolder: Nullable(Type.String(), {
      description: 'the node id of the node delivering it (holding its lease); null: none',
    }),
  },
  { title: 'SubscriptionInfo' },
);

/** Persistent subscriptions: their definitions, checkpoints and lag. */
export const SUBSCRIPTION_OPERATIONS = {
  saveSubscription: {
    summary:
      'Creates a persistent subscription, or returns the existing one of that name, type and selector (keeping its checkpoint); a different type or selector replaces it.',
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      param(
        'options',
        Type.Object(
          {
            name: Type.String(),
            type: SubscriptionType,
            selector: Selector,
            startFrom: Type.Optional(StartFrom),
          },
          { title: 'SaveSubscriptionOptions' },
        ),
      ),
    ],
    result: SubscriptionInfo,
    http: { method: 'POST', path: '/stores/{storeId}/subscriptions', body: ['options'] },
  },
  ackEvent: {
    summary:
      'Acknowledges a subscription up to and including an event (or a global position); returns the stored checkpoint.',
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      SubscriptionName,
      param('eventOrPosition', Type.Union([Type.Integer(), EventRecord])),
    ],
    result: Integer,
  },
  getSubscriptions: {
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: Type.Array(Type.Object({}, { title: 'SubscriptionDefinition' })),
  },
  getSubscription: {
    role: 'read',
    idempotent: true,
    params: [P.storeId, SubscriptionName],
    result: SubscriptionInfo,
    http: { method: 'GET', path: '/stores/{storeId}/subscriptions/{name}' },
  },
  listStoreSubscriptions: {
    summary:
      "The store's subscriptions with their checkpoints, up to 100 000 (deprecated: page with listSubscriptionPage).",
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: Type.Array(SubscriptionInfo),
  },
  listSubscriptionPage: {
    summary: "A page of the store's subscriptions with their checkpoints, by name.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, optionalParam('options', ListOptions)],
    result: Type.Object(
      { subscriptions: Type.Array(SubscriptionInfo), next: Nullable(Type.String()) },
      { title: 'SubscriptionPage' },
    ),
    http: {
      method: 'GET',
      path: '/stores/{storeId}/subscriptions',
      query: {
        after: { param: 'options', field: 'after' },
        limit: { param: 'options', field: 'limit' },
      },
    },
  },
  subscriptionLag: {
    summary:
      'How far a subscription is behind: checkpoint, latest position and matching events after the checkpoint.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, SubscriptionName],
    result: Type.Object(
      {
        name: Type.String(),
        checkpoint: Integer,
        latestPosition: Integer,
        lagEvents: Integer,
        exact: Type.Boolean({ description: 'false: an upper bound (too many to count)' }),
      },
      { title: 'SubscriptionLag' },
    ),
    http: { method: 'GET', path: '/stores/{storeId}/subscriptions/{name}/lag' },
  },
  removeSubscription: {
    role: 'write',
    idempotent: false,
    params: [
      P.storeId,
      param('type', SubscriptionType),
      param('selector', Selector),
      SubscriptionName,
    ],
    result: Nothing,
  },
} satisfies OperationTable<
  | 'saveSubscription'
  | 'ackEvent'
  | 'getSubscriptions'
  | 'getSubscription'
  | 'listStoreSubscriptions'
  | 'listSubscriptionPage'
  | 'subscriptionLag'
  | 'removeSubscription'
>;
