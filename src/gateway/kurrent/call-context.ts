// Who is calling and which store a call is for. KurrentDB has one database per server; evdb has
// many stores, so the adapter serves a default store and lets a connection string name another.
import type { Metadata } from '@grpc/grpc-js';
import { EvdbError } from '../../core/errors.js';
import { assertStoreAccess, type Authenticator, type Principal } from '../auth.js';

/**
 * The connection-string setting `connectionName=store:<id>` (both halves of the KurrentDB
 * clients send it as the `connection-name` header) picks store `<id>`; any other connection
 * name is the application's own and leaves the default store.
 */
const STORE_PREFIX = 'store:';

export type Access = 'read' | 'write';

export interface CallContext {
  storeId: string;
  principal: Principal;
}

export class CallContexts {
  constructor(
    private readonly auth: Authenticator,
    private readonly defaultStore: string,
  ) {}

  /**
   * The store and principal of a call. Without tokens every call is admin (an `authorization`
   * header is accepted and ignored, as KurrentDB's insecure mode does). With tokens, the
   * password of Basic credentials (or a Bearer token) must be an evdb token.
   */
  of(metadata: Metadata, access: Access): CallContext {
    const storeId = storeOf(metadata) ?? this.defaultStore;
    const principal = this.principalOf(metadata);
    assertStoreAccess(principal, storeId);
    if (access === 'write' && principal.role === 'read') {
      throw new EvdbError('unauthorized', 'this token may only read', {
        details: { reason: 'forbidden', needed: 'write' },
      });
    }
    return { storeId, principal };
  }

  /** Admin-only calls (persistent-subscription management would be one). */
  principalOf(metadata: Metadata): Principal {
    if (!this.auth.enabled) return this.auth.authenticateHeader(undefined);
    const header = single(metadata, 'authorization') ?? '';
    const basic = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (basic !== null) {
      const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return this.auth.authenticateToken(colon < 0 ? decoded : decoded.slice(colon + 1));
    }
    return this.auth.authenticateHeader(header === '' ? undefined : header);
  }
}

function storeOf(metadata: Metadata): string | undefined {
  const name = single(metadata, 'connection-name');
  if (name === undefined || !name.startsWith(STORE_PREFIX)) return undefined;
  return name.slice(STORE_PREFIX.length);
}

function single(metadata: Metadata, key: string): string | undefined {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : undefined;
}
