import { createPrivateKey, sign as edSign, type KeyObject } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CapabilityVerifier,
  delegateCapability,
  generateCapabilityKeys,
  inspectCapability,
  issueCapability,
  type CapabilityGrant,
} from '../src/channels/capability-tokens.js';
import { memory, openEvdb } from '../src/index.js';
import { rejectsWith } from './conformance/harness.js';
import { until } from './conformance/channels.js';

const issuer = generateCapabilityKeys();
const holder = generateCapabilityKeys();
const now = Math.floor(Date.now() / 1000);
const readA: CapabilityGrant = { resource: 'store:a', action: 'stream/read' };

function verifier(options: { at?: number; revoked?: string[] } = {}): CapabilityVerifier {
  return new CapabilityVerifier({
    trustedIssuers: [issuer.publicKey],
    revoked: options.revoked,
    clock: () => options.at ?? now,
  });
}

/** Asserts that `work` throws `unauthorized` with `reason`. */
function refused(work: () => unknown, reason: string): void {
  assert.throws(work, (error: { code?: string; details?: { reason?: string } }) => {
    assert.equal(error.code, 'unauthorized');
    assert.equal(error.details?.reason, reason);
    return true;
  });
}

describe('capability tokens', () => {
  const root = issueCapability({
    privateKey: issuer.privateKey,
    grants: [readA, { resource: 'channel:*', action: 'channel/publish' }],
    holder: holder.publicKey,
    now,
  });

  it('are JWT-shaped, expire after 900 s by default, and grant what they name', () => {
    assert.match(root, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = inspectCapability(root);
    assert.equal(claims.exp - claims.nbf, 900);
    assert.equal(claims.iss, issuer.publicKey);
    const v = verifier();
    assert.equal(v.authorize(root, 'store:a', 'stream/read')?.jti, claims.jti);
    v.authorize(root, 'channel:alerts', 'channel/publish');
  });

  it('bound their lifetime to 60 s – 24 h', () => {
    for (const ttlSeconds of [59, 86_401]) {
      assert.throws(
        () => issueCapability({ privateKey: issuer.privateKey, grants: [readA], ttlSeconds }),
        {
          code: 'invalid_argument',
        },
      );
    }
  });

  it('refuse an expired token', () => {
    refused(() => verifier({ at: now + 901 }).verify(root), 'expired');
  });

  it('refuse a token not yet valid', () => {
    const later = issueCapability({
      privateKey: issuer.privateKey,
      grants: [readA],
      notBefore: now + 600,
      now,
    });
    refused(() => verifier().verify(later), 'not_yet_valid');
  });

  it('refuse a wrong signature and an untrusted issuer', () => {
    const [header, payload] = root.split('.');
    const other = issueCapability({
      privateKey: generateCapabilityKeys().privateKey,
      grants: [readA],
      now,
    });
    const forged = `${header}.${payload}.${other.split('.')[2]}`;
    refused(() => verifier().verify(forged), 'bad_signature');
    refused(() => verifier().verify(other), 'untrusted_issuer');
    refused(() => verifier().verify('not.a.token!'), 'malformed');
  });

  it('refuse the wrong resource and the wrong action', () => {
    refused(() => verifier().authorize(root, 'store:b', 'stream/read'), 'wrong_resource');
    refused(() => verifier().authorize(root, 'store:a', 'stream/append'), 'wrong_action');
  });

  it('delegate only narrower: a widened delegation is refused, at issue and when verified', () => {
    const child = delegateCapability({
      parent: root,
      privateKey: holder.privateKey,
      grants: [{ resource: 'channel:logging', action: 'channel/publish' }],
      now,
    });
    verifier().authorize(child, 'channel:logging', 'channel/publish');
    refused(() => verifier().authorize(child, 'store:a', 'stream/read'), 'wrong_action');
    assert.throws(
      () =>
        delegateCapability({
          parent: root,
          privateKey: holder.privateKey,
          grants: [{ resource: 'store:*', action: 'stream/read' }],
          now,
        }),
      { code: 'invalid_argument' },
    );
    // A widened child built by hand (signed by the holder, claiming more) fails verification.
    const widened = forgeChild(root, [{ resource: 'store:*', action: '*' }]);
    refused(() => verifier().verify(widened), 'widened');
    // Only the holder can delegate.
    assert.throws(
      () =>
        delegateCapability({ parent: root, privateKey: issuer.privateKey, grants: [readA], now }),
      { code: 'invalid_argument' },
    );
  });

  it('refuse a revoked token and everything delegated from it', () => {
    const child = delegateCapability({
      parent: root,
      privateKey: holder.privateKey,
      grants: [readA],
      now,
    });
    const v = verifier();
    v.verify(child);
    v.revoke(inspectCapability(root).jti);
    refused(() => v.verify(root), 'revoked');
    refused(() => v.verify(child), 'revoked');
  });

  it('modes: optional lets a request without a token through, required refuses it, disabled refuses tokens', () => {
    assert.equal(verifier().authorize(undefined, 'store:a', 'stream/read'), undefined);
    const required = new CapabilityVerifier({
      mode: 'required',
      trustedIssuers: [issuer.publicKey],
    });
    refused(() => required.authorize(undefined, 'store:a', 'stream/read'), 'missing');
    required.authorize(root, 'store:a', 'stream/read');
    const disabled = new CapabilityVerifier({ mode: 'disabled' });
    refused(() => disabled.authorize(root, 'store:a', 'stream/read'), 'disabled');
  });

  it('guard channels of the embedded store: nothing refused is delivered', async () => {
    const evdb = await openEvdb({
      backend: memory(),
      channels: { capabilities: { mode: 'required', trustedIssuers: [issuer.publicKey] } },
    });
    const publishLogging = issueCapability({
      privateKey: issuer.privateKey,
      grants: [{ resource: 'channel:logging', action: 'channel/publish' }],
    });
    const subscribeAll = issueCapability({
      privateKey: issuer.privateKey,
      grants: [{ resource: 'channel:*', action: 'channel/subscribe' }],
    });
    await rejectsWith(
      evdb.channels.subscribe('logging', 'x', () => undefined),
      'unauthorized',
      {
        reason: 'missing',
      },
    );
    const got: unknown[] = [];
    await evdb.channels.subscribe('logging', 'x', (m) => void got.push(m.message), {
      capability: subscribeAll,
    });
    await evdb.channels.subscribe('system', 'x', (m) => void got.push(m.message), {
      capability: subscribeAll,
    });
    await rejectsWith(evdb.channels.publish('logging', 'x', { n: 0 }), 'unauthorized', {
      reason: 'missing',
    });
    await rejectsWith(
      evdb.channels.publish('system', 'x', { n: 1 }, { capability: publishLogging }),
      'unauthorized',
      { reason: 'wrong_resource' },
    );
    await rejectsWith(
      evdb.channels.publish('logging', 'x', { n: 2 }, { capability: subscribeAll }),
      'unauthorized',
      { reason: 'wrong_action' },
    );
    await evdb.channels.publish('logging', 'x', { n: 3 }, { capability: publishLogging });
    await until(() => got.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(got, [{ n: 3 }]);
    await evdb.close();
  });
});

/** A delegated token claiming `grants`, signed by the holder without the issuing checks. */
function forgeChild(parent: string, grants: CapabilityGrant[]): string {
  const claims = {
    jti: 'forged',
    iss: holder.publicKey,
    iat: now,
    nbf: now,
    exp: now + 60,
    grants,
    prf: parent,
  };
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const key = createPrivateKeyFrom(holder.privateKey);
  const signature = signRaw(`${header}.${payload}`, key);
  return `${header}.${payload}.${signature}`;
}

function createPrivateKeyFrom(encoded: string): KeyObject {
  return createPrivateKey({ key: Buffer.from(encoded, 'base64url'), format: 'der', type: 'pkcs8' });
}
function signRaw(data: string, key: KeyObject): string {
  return edSign(null, Buffer.from(data), key).toString('base64url');
}
