import { Type } from '@sinclair/typebox';
import { optionalParam, param, type OperationTable } from '../operation.js';
import { Integer, ListOptions, Nothing, Nullable, P } from '../schemas.js';
import { StringEnum } from '../schema.js';
import { SubscriptionName } from './subscriptions.js';

const LinkSource = Type.Object(
  {
    type: StringEnum(['stream', 'stream_pattern', 'all']),
    streamId: Type.Optional(Type.String()),
    pattern: Type.Optional(Type.String()),
  },
  {
    title: 'LinkSource',
    description: "{type: 'stream', streamId} | {type: 'stream_pattern', pattern} | {type: 'all'}",
  },
);

const LinkDefinition = Type.Object(
  {
    name: Type.String(),
    source: LinkSource,
    filter: Type.Optional(
      Type.Object({}, { description: 'the declarative filter (an event pattern), if any' }),
    ),
    code: Type.Object(
      {},
      {
        description: 'whether the link needs filter or transform code in the process that runs it',
      },
    ),
    backfill: Type.Boolean(),
    leaseMs: Integer,
    status: StringEnum(['running', 'stopped']),
    linkStream: Type.String(),
    createdAt: Type.String(),
  },
  { title: 'LinkDefinition' },
);

/** Links: derived streams `$link:<name>` fed from a source by a declarative pattern. */
export const LINK_OPERATIONS = {
  createLink: {
    summary:
      'Creates a link (a derived stream $link:<name>) and starts it. Remotely the filter can only be declarative (an event pattern).',
    role: 'write',
    idempotent: true,
    params: [
      P.storeId,
      param(
        'options',
        Type.Object(
          {
            name: Type.String(),
            source: LinkSource,
            filter: Type.Optional(Type.Object({}, { description: 'an event pattern' })),
            backfill: Type.Optional(Type.Boolean()),
            leaseMs: Type.Optional(
              Type.Integer({
                minimum: 100,
                maximum: 3_600_000,
                description: 'how long a dead process keeps the link before another takes it over',
              }),
            ),
          },
          { title: 'CreateLinkOptions', additionalProperties: false },
        ),
      ),
    ],
    result: LinkDefinition,
    http: { method: 'POST', path: '/stores/{storeId}/links', body: ['options'] },
  },
  getLink: {
    summary: 'One link; `not_found` if missing.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, SubscriptionName],
    result: LinkDefinition,
    http: { method: 'GET', path: '/stores/{storeId}/links/{name}' },
  },
  listLinks: {
    summary: 'The links of a store, up to 100 000 (deprecated: page with listLinkPage).',
    role: 'read',
    idempotent: true,
    params: [P.storeId],
    result: Type.Array(LinkDefinition),
  },
  listLinkPage: {
    summary: 'A page of the links of a store, by name.',
    role: 'read',
    idempotent: true,
    params: [P.storeId, optionalParam('options', ListOptions)],
    result: Type.Object(
      { links: Type.Array(LinkDefinition), next: Nullable(Type.String()) },
      { title: 'LinkPage' },
    ),
    http: {
      method: 'GET',
      path: '/stores/{storeId}/links',
      query: {
        after: { param: 'options', field: 'after' },
        limit: { param: 'options', field: 'limit' },
      },
    },
  },
  linkInfo: {
    summary: "A link's status, events processed, last position and stream version.",
    role: 'read',
    idempotent: true,
    params: [P.storeId, SubscriptionName],
    result: Type.Object(
      {
        name: Type.String(),
        status: StringEnum(['running', 'stopped']),
        processed: Integer,
        lastPosition: Integer,
        linkStream: Type.String(),
        linkStreamVersion: Integer,
        createdAt: Type.String(),
        active: Type.Boolean(),
        lastError: Type.Optional(Type.String()),
      },
      { title: 'LinkInfo' },
    ),
    http: { method: 'GET', path: '/stores/{storeId}/links/{name}/info' },
  },
  stopLink: {
    summary: 'Stops a link (it keeps its checkpoint).',
    role: 'write',
    idempotent: true,
    params: [P.storeId, SubscriptionName],
    result: Nothing,
  },
  startLink: {
    role: 'write',
    idempotent: true,
    params: [P.storeId, SubscriptionName],
    result: Nothing,
  },
  deleteLink: {
    role: 'write',
    idempotent: false,
    params: [P.storeId, SubscriptionName],
    result: Nothing,
    http: { method: 'DELETE', path: '/stores/{storeId}/links/{name}' },
  },
} satisfies OperationTable<
  | 'createLink'
  | 'getLink'
  | 'listLinks'
  | 'listLinkPage'
  | 'linkInfo'
  | 'stopLink'
  | 'startLink'
  | 'deleteLink'
>;
