import { createHash, timingSafeEqual } from 'node:crypto';
import { EvdbError, invalidArgument } from '../core/errors.js';
import type { OperationSpec, Role } from '../protocol/operations.js';
import { looksLikeCapability, type CapabilityVerifier } from '../channels/capability-tokens.js';
import {
  assertCapability,
  capabilityActionOf,
  storesOf,
  type CapabilityPrincipal,
} from './capability-auth.js';

/** A bearer token and what it may do. Roles nest: read ⊂ write ⊂ admin. */
export interface TokenSpec {
  token: string;
  /** `'*'` for every store, or the store ids the token may use. */
  stores: '*' | string[];
  role: Role;
}

/** Who is calling, once authenticated. */
export interface Principal {
  role: Role;
  stores: '*' | ReadonlySet<string>;
  /** Set when the caller presented a capability token: its grants decide, at every call. */
  capability?: CapabilityPrincipal;
}

const RANK: Record<Role, number> = { read: 0, write: 1, admin: 2 };

/** The caller when the server runs without tokens (loopback only, or explicitly insecure). */
export const OPEN_ACCESS: Principal = Object.freeze({ role: 'admin', stores: '*' });

export class Authenticator {
  private readonly tokens: { digest: Buffer; principal: Principal }[];

  constructor(
    tokens: readonly TokenSpec[] | undefined,
    private readonly capabilities?: CapabilityVerifier,
  ) {
    this.tokens = (tokens ?? []).map((spec, i) => {
      if (typeof spec !== 'object' || spec === null)
        throw invalidArgument(`tokens[${i}] must be an object`);
      if (typeof spec.token !== 'string' || spec.token.length === 0) {
        throw invalidArgument(`tokens[${i}].token must be a non-empty string`);
      }
      if (!(spec.role in RANK)) {
        throw invalidArgument(`tokens[${i}].role must be 'read', 'write' or 'admin'`);
      }
      const storesOk =
        spec.stores === '*' ||
        (Array.isArray(spec.stores) && spec.stores.every((s) => typeof s === 'string'));
      if (!storesOk) {
        throw invalidArgument(`tokens[${i}].stores must be '*' or an array of store ids`);
      }
      return {
        digest: digest(spec.token),
        principal: {
          role: spec.role,
          stores: spec.stores === '*' ? '*' : new Set(spec.stores),
        },
      };
    });
  }

  /** Whether callers need a token (static tokens configured, or capabilities required). */
  private isCapability(token: string): boolean {
    return this.capabilities !== undefined && looksLikeCapability(token);
  }

  get enabled(): boolean {
    return this.tokens.length > 0 || this.capabilities?.mode === 'required';
  }

  /** The principal of an `Authorization` header value; `unauthorized` (401) without a valid token. */
  authenticateHeader(header: string | undefined): Principal {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
    // A capability token is checked wherever it is presented, even on an open server.
    if (match !== null && this.isCapability(match[1] as string)) {
      return this.authenticateToken(match[1] as string);
    }
    if (!this.enabled) return OPEN_ACCESS;
    if (match === null) {
      throw new EvdbError(
        'unauthorized',
        'this server needs a bearer token: Authorization: Bearer <token>',
        {
          details: { reason: 'unauthenticated' },
        },
      );
    }
    return this.authenticateToken(match[1] as string);
  }

  authenticateToken(token: string): Principal {
    if (this.capabilities !== undefined && this.isCapability(token)) {
      const claims = this.capabilities.verify(token);
      return {
        role: 'admin',
        stores: storesOf(claims),
        capability: { token, claims, verifier: this.capabilities },
      };
    }
    if (this.capabilities?.mode === 'required') {
      throw new EvdbError('unauthorized', 'this server requires a capability token', {
        details: { reason: 'missing' },
      });
    }
    if (!this.enabled) return OPEN_ACCESS;
    // Digests have equal lengths, so timingSafeEqual applies; every token is compared, so the
    // time taken does not tell which one (or whether any) matched.
    const candidate = digest(token);
    let found: Principal | undefined;
    for (const entry of this.tokens) {
      if (timingSafeEqual(entry.digest, candidate) && found === undefined) found = entry.principal;
    }
    if (found === undefined) {
      throw new EvdbError('unauthorized', 'the bearer token is not valid', {
        details: { reason: 'unauthenticated' },
      });
    }
    return found;
  }
}

/**
 * `unauthorized` (403) when the principal's role is below what the operation needs; for a
 * capability, when it (verified again: expiry, revocation) does not allow the operation's action.
 */
export function assertRole(
  principal: Principal,
  op: string,
  spec: Pick<OperationSpec, 'role'>,
): void {
  if (principal.capability !== undefined) {
    assertCapability(principal.capability, undefined, capabilityActionOf(op, spec.role));
    return;
  }
  if (RANK[principal.role] < RANK[spec.role]) {
    throw new EvdbError(
      'unauthorized',
      `${op} needs the ${spec.role} role; this token has ${principal.role}`,
      {
        details: { reason: 'forbidden', needed: spec.role },
      },
    );
  }
}

/**
 * `unauthorized` (403) when the principal may not use the store (a capability: for what `op`
 * does there).
 */
export function assertStoreAccess(
  principal: Principal,
  storeId: unknown,
  op?: { name: string; role: Role },
): void {
  if (principal.capability !== undefined) {
    assertCapability(
      principal.capability,
      `store:${String(storeId)}`,
      capabilityActionOf(op?.name ?? 'unknown', op?.role ?? 'admin'),
    );
    return;
  }
  if (principal.stores === '*') return;
  if (typeof storeId !== 'string' || !principal.stores.has(storeId)) {
    throw new EvdbError('unauthorized', `this token may not use store ${JSON.stringify(storeId)}`, {
      details: { reason: 'forbidden', storeId },
    });
  }
}

/** For a capability: `unauthorized` unless it allows `op` on the channel. Others pass. */
export function assertChannelAccess(principal: Principal, channel: unknown, op: string): void {
  if (principal.capability === undefined) return;
  assertCapability(
    principal.capability,
    `channel:${String(channel)}`,
    capabilityActionOf(op, 'write'),
  );
}

export function canSeeStore(principal: Principal, storeId: string): boolean {
  return principal.stores === '*' || principal.stores.has(storeId);
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
