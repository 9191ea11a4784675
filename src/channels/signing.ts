import { createHmac, timingSafeEqual } from 'node:crypto';
import { EvdbError, invalidArgument } from '../core/errors.js';
import type { JsonObject, JsonValue } from '../core/types.js';

/** How old a signed message may be when it is published. */
export const MAX_SIGNATURE_AGE_MS = 300_000;

/** A message with its signature: the fields of the message plus `signedAt` and `signature`. */
export type SignedMessage = JsonObject & { signedAt: number; signature: string };

export interface SignOptions {
  /** The signing time in ms since epoch; default now. */
  now?: number;
}

export interface VerifyOptions {
  /** The checking time in ms since epoch; default now. */
  now?: number;
  /** Default {@link MAX_SIGNATURE_AGE_MS}. */
  maxAgeMs?: number;
}

/**
 * Signs a channel message with a shared secret: HMAC-SHA256 (hex) over the canonical JSON of
 * the message's fields and `signedAt` (ms since epoch), added as `signature`. Nodes that share
 * the secret (`--channel-secret`) accept it on the `alerts` and `security` channels.
 *
 * @example
 * import { sign } from 'evdb';
 * await evdb.channels.publish('alerts', 'disk.full', sign({ host: 'db-1' }, process.env.EVDB_CHANNEL_SECRET!));
 */
export function sign(
  message: JsonObject,
  secret: string | Uint8Array,
  options: SignOptions = {},
): SignedMessage {
  assertSecret(secret);
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw invalidArgument('only JSON objects can be signed');
  }
  const unsigned: JsonObject = { ...message, signedAt: options.now ?? Date.now() };
  delete unsigned.signature;
  return { ...unsigned, signature: digest(unsigned, secret) } as SignedMessage;
}

/**
 * Checks a signed message: `signature_required` when it carries no signature,
 * `invalid_signature` when the signature does not match (compared in constant time) or the
 * message is not signable, `message_expired` when it was signed more than `maxAgeMs` ago.
 */
export function verify(
  message: JsonValue,
  secret: string | Uint8Array | undefined,
  options: VerifyOptions = {},
): void {
  if (!isSignedShape(message)) {
    throw new EvdbError('signature_required', 'this message must be signed (signedAt, signature)', {
      details: { reason: 'unsigned' },
    });
  }
  if (secret === undefined) {
    throw new EvdbError(
      'invalid_signature',
      'this node has no channel secret to check signatures with (--channel-secret)',
      { details: { reason: 'no_secret' } },
    );
  }
  const { signature, ...unsigned } = message;
  if (typeof unsigned.signedAt !== 'number' || !Number.isFinite(unsigned.signedAt)) {
    throw new EvdbError('invalid_signature', 'signedAt must be a time in ms since epoch', {
      details: { reason: 'malformed' },
    });
  }
  const expected = Buffer.from(digest(unsigned, secret), 'hex');
  const given = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : undefined;
  // Compared in constant time; a malformed signature is compared too, against itself-sized
  // bytes, so the time taken does not tell a malformed one from a wrong one.
  const equal = timingSafeEqual(expected, given ?? Buffer.alloc(expected.length)) && !!given;
  if (!equal) {
    throw new EvdbError('invalid_signature', 'the message signature does not match', {
      details: { reason: 'mismatch' },
    });
  }
  const now = options.now ?? Date.now();
  const maxAge = options.maxAgeMs ?? MAX_SIGNATURE_AGE_MS;
  const age = now - unsigned.signedAt;
  if (age > maxAge) {
    throw new EvdbError(
      'message_expired',
      `the message was signed ${age} ms ago (at most ${maxAge})`,
      {
        details: { reason: 'expired', ageMs: age, maxAgeMs: maxAge },
      },
    );
  }
  if (-age > maxAge) {
    // Signed further in the future than any clock skew explains: a replay window of its own.
    throw new EvdbError('invalid_signature', 'the message is signed in the future', {
      details: { reason: 'future', aheadMs: -age },
    });
  }
}

/** Whether a message carries a signature (so it is checked even where none is required). */
export function isSignedShape(message: unknown): message is SignedMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    !Array.isArray(message) &&
    typeof (message as JsonObject).signature === 'string'
  );
}

/**
 * JSON with object keys sorted (by code unit) at every level, no whitespace: one text per value,
 * whatever order its keys were built in.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value)
    .filter((key) => value[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`).join(',')}}`;
}

function digest(unsigned: JsonObject, secret: string | Uint8Array): string {
  return createHmac('sha256', secret).update(canonicalJson(unsigned), 'utf8').digest('hex');
}

function assertSecret(secret: unknown): void {
  const ok =
    (typeof secret === 'string' && secret.length > 0) ||
    (secret instanceof Uint8Array && secret.length > 0);
  if (!ok) throw invalidArgument('a channel secret is a non-empty string or byte array');
}
