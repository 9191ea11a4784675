import { Type } from '@sinclair/typebox';
import { LIMITS } from '../../core/limits.js';
import { optionalParam, param, type OperationTable } from '../operation.js';
import { EventList, Integer, P, StringList } from '../schemas.js';
import { StringEnum } from '../schema.js';

const PageOptions = Type.Object({
  fromPosition: Type.Optional(Integer),
  count: Type.Optional(Integer),
});

const TagOptions = Type.Object({
  fromPosition: Type.Optional(Integer),
  count: Type.Optional(Integer),
  match: Type.Optional(StringEnum(['any', 'all'])),
});

/** Reads across streams in global order: the whole log, by type, by tag. */
export const READ_OPERATIONS = {
  readAllGlobal: {
    summary: 'Events of every stream in global order from `fromPosition` (inclusive).',
    role: 'read',
    idempotent: true,
    params: [P.storeId, param('fromPosition', Integer), param('count', Integer)],
    result: EventList,
    http: {
      method: 'GET',
      path: '/stores/{storeId}/all',
      query: {
        from: { param: 'fromPosition', default: 0 },
        count: { param: 'count', default: 1000 },
      },
      responseKey: 'events',
    },
    parts: { fromParam: 'fromPosition', countParam: 'count' },
  },
  readByEventTypes: {
    summary: 'Events of the given types, in global order, from the type index.',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      param('eventTypes', StringList(LIMITS.maxQueryKeys)),
      optionalParam('options', PageOptions),
    ],
    result: EventList,
  },
  readByTags: {
    summary: 'Events with any or all of the tags, in global order, from the tag index.',
    role: 'read',
    idempotent: true,
    params: [
      P.storeId,
      param('tags', StringList(LIMITS.maxQueryKeys)),
      optionalParam('options', TagOptions),
    ],
    result: EventList,
  },
} satisfies OperationTable<'readAllGlobal' | 'readByEventTypes' | 'readByTags'>;
