import {
  assertGranted,
  type CapabilityClaims,
  type CapabilityVerifier,
} from '../channels/capability-tokens.js';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { EvdbError, invalidArgument } from '../core/errors.js';

/** A caller authenticated by a capability token: checked again at every call it makes. */
export interface CapabilityPrincipal {
  token: string;
  claims: CapabilityClaims;
  verifier: CapabilityVerifier;
}

const ACTIONS: Record<string, string> = {
  appendEvents: 'stream/append',
  appendBatch: 'stream/append',
  deleteStream: 'stream/delete',
  scavenge: 'stream/delete',
  scavengeMatching: 'stream/delete',
  recordSnapshot: 'snapshot/write',
  deleteSnapshot: 'snapshot/write',
  readSnapshot: 'snapshot/read',
  listSnapshots: 'snapshot/read',
  listAllSnapshots: 'snapshot/read',
  listSnapshotPage: 'snapshot/read',
  saveSubscription: 'subscription/write',
  removeSubscription: 'subscription/write',
  ackEvent: 'subscription/write',
  createLink: 'subscription/write',
  deleteLink: 'subscription/write',
  startLink: 'subscription/write',
  stopLink: 'subscription/write',
  getSubscriptions: 'subscription/read',
  getSubscription: 'subscription/read',
  listStoreSubscriptions: 'subscription/read',
  listSubscriptionPage: 'subscription/read',
  subscriptionLag: 'subscription/read',
  getLink: 'subscription/read',
  listLinks: 'subscription/read',
  listLinkPage: 'subscription/read',
  linkInfo: 'subscription/read',
  publishToChannel: 'channel/publish',
  channelSubscribe: 'channel/subscribe',
};

/**
 * The capability action an operation needs: its own entry above, else by its role: `admin`
 * operations `store/admin`, the other reads `stream/read`. A write without an entry is
 * `store/admin`, so that an operation added later is never open to a narrower capability.
 */
export function capabilityActionOf(op: string, role: 'read' | 'write' | 'admin'): string {
  return ACTIONS[op] ?? (role === 'read' ? 'stream/read' : 'store/admin');
}

/** Verifies the token again (expiry, revocation) and checks `action` on `resource`. */
export function assertCapability(
  principal: CapabilityPrincipal,
  resource: string | undefined,
  action: string,
): void {
  const claims = principal.verifier.verify(principal.token);
  if (resource !== undefined) {
    assertGranted(claims, resource, action);
    return;
  }
  // A call on no one resource (the node's health, the store list) needs the action somewhere.
  if (!claims.grants.some((grant) => grant.action === '*' || covers(grant.action, action))) {
    throw new EvdbError('unauthorized', `the capability does not allow ${action}`, {
      details: { reason: 'wrong_action' },
    });
  }
}

function covers(pattern: string, action: string): boolean {
  return pattern === action || (pattern.endsWith('/*') && action.startsWith(pattern.slice(0, -1)));
}

/** The stores a capability names, for listing (`'*'` when it covers every store). */
export function storesOf(claims: CapabilityClaims): '*' | Set<string> {
  const stores = new Set<string>();
  for (const { resource } of claims.grants) {
    if (resource === '*' || resource === 'store:*') return '*';
    if (resource.startsWith('store:')) stores.add(resource.slice('store:'.length));
  }
  return stores;
}

/** The ids in a revocation file (a JSON list of token ids); an absent file is an empty list. */
export function readRevocationFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const ids = JSON.parse(text) as unknown;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
    throw invalidArgument(`${file} must hold a JSON list of token ids`);
  }
  return ids;
}

/**
 * Revokes every id listed in `file` now and whenever it changes (checked every second).
 * Returns the function that stops watching.
 */
export function watchRevocations(file: string, verifier: CapabilityVerifier): () => void {
  const load = (): void => {
    try {
      for (const id of readRevocationFile(file)) verifier.revoke(id);
    } catch (error) {
      // A half-edited file: the ids already loaded stay revoked; the next change is read again.
      process.emitWarning(`evdb: cannot read the revocation list ${file}: ${String(error)}`);
    }
  };
  load();
  const listener = (): void => load();
  watchFile(file, { interval: 1000, persistent: false }, listener);
  return () => unwatchFile(file, listener);
}
