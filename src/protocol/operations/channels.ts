import { Type, type TUnsafe } from '@sinclair/typebox';
import type { JsonValue } from '../../core/types.js';
import { CHANNELS, CHANNEL_LIMITS } from '../../core/channel-types.js';
import { optionalParam, param, type OperationTable } from '../operation.js';
import { StringEnum } from '../schema.js';
import { AnyJson } from '../schemas.js';

/**
 * The channel operations of the network API. Subscribing is not a call: the WebSocket
 * transport carries it with frames of its own (`src/gateway/ws-channels.ts`).
 */
export const CHANNEL_OPERATIONS = {
  publishToChannel: {
    summary:
      'Publishes a message on one of the ten channels to every subscription whose topic pattern matches, on every node of the cluster (`channels.publish`). Refused messages (`rate_limited`, `signature_required`, `invalid_signature`, `message_expired`, `unauthorized`) reach no one.',
    role: 'write',
    // A resend after an unknown outcome could deliver the message twice.
    idempotent: false,
    params: [
      param('channel', StringEnum(Object.keys(CHANNELS) as (keyof typeof CHANNELS)[])),
      param(
        'topic',
        Type.String({
          description: "dot-separated segments of letters, digits, '_', '-', ':' or '$'",
          maxLength: CHANNEL_LIMITS.maxTopicLength,
        }),
      ),
      param('message', AnyJson as TUnsafe<JsonValue>),
      optionalParam(
        'options',
        Type.Object(
          { capability: Type.Optional(Type.String({ description: 'a capability token' })) },
          { additionalProperties: false },
        ),
      ),
    ],
    result: Type.Object(
      { id: Type.String(), localRecipients: Type.Integer() },
      { title: 'ChannelPublishResult' },
    ),
    http: { method: 'POST', path: '/channels/{channel}/{topic}', body: ['message', 'options'] },
  },
} satisfies OperationTable<'publishToChannel'>;
