// Longer than 400 lines because issuing, delegating and verifying apply the same rules to the
// same claims (coverage of grants, lifetimes, shapes); kept together they cannot drift apart.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from 'node:crypto';
import { EvdbError, invalidArgument } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';

/**
 * Capability tokens: Ed25519-signed, JWT-shaped (`header.payload.signature`, base64url), so they
 * travel in an ordinary `Authorization: Bearer` header. A root token is signed by an issuer the
 * deployment trusts; its holder (the key named `aud`) may delegate a narrower token, signed with
 * the holder's key and carrying its parent (`prf`), and so on: verifying a token verifies the
 * whole chain.
 */

/** What a grant allows: an action on a resource; `*` and `prefix*` patterns cover more. */
export interface CapabilityGrant {
  /** `store:<id>`, `store:*`, `channel:<name>`, `channel:*` or `*`. */
  resource: string;
  /**
   * `channel/publish`, `channel/subscribe`, `stream/append`, `stream/read`, `stream/delete`,
   * `snapshot/read`, `snapshot/write`, `snapshot/*`, `subscription/read`, `subscription/write`,
   * `subscription/*`, `store/admin` or `*`.
   */
  action: string;
}

/** The claims of a token (what `inspectCapability` shows). */
export interface CapabilityClaims {
  /** The token's id: what revocation names. */
  jti: string;
  /** The public key (raw Ed25519, base64url) that signed this token. */
  iss: string;
  /** The holder's public key: who may delegate from this token. */
  aud?: string;
  /** Issued at, not before, expires: seconds since epoch. */
  iat: number;
  nbf: number;
  exp: number;
  grants: CapabilityGrant[];
  /** The parent token, for a delegated one. */
  prf?: string;
}

export const CAPABILITY_LIMITS = Object.freeze({
  defaultTtlSeconds: 900,
  minTtlSeconds: 60,
  maxTtlSeconds: 24 * 3600,
  maxTokenLength: 16 * 1024,
  maxChainDepth: 8,
  maxGrants: 64,
  /** Clock skew tolerated between the issuer's clock and the verifier's. */
  skewSeconds: 30,
});

export type CapabilityMode = 'disabled' | 'optional' | 'required';

export interface CapabilityKeyPair {
  /** Raw Ed25519 public key, base64url: what verifiers trust and `aud` names. */
  publicKey: string;
  /** PKCS#8 DER, base64url: keep it secret. */
  privateKey: string;
}

/** A new Ed25519 key pair for issuing or holding capabilities. */
export function generateCapabilityKeys(): CapabilityKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: rawPublicKey(publicKey), privateKey: exportPrivate(privateKey) };
}

export interface IssueCapabilityOptions {
  /** The issuer's private key (from `generateCapabilityKeys`). */
  privateKey: string;
  grants: CapabilityGrant[];
  /** Default 900; from 60 to 86 400. */
  ttlSeconds?: number;
  /** Valid from (seconds since epoch); default now. */
  notBefore?: number;
  /** The holder's public key, so the holder can delegate. */
  holder?: string;
  /** Seconds since epoch; default now. */
  now?: number;
}

/**
 * Issues a root capability token.
 *
 * @example
 * const keys = generateCapabilityKeys();
 * const token = issueCapability({ privateKey: keys.privateKey, grants: [{ resource: 'store:a', action: 'stream/read' }] });
 */
export function issueCapability(options: IssueCapabilityOptions): string {
  return mint(options, undefined);
}

export interface DelegateCapabilityOptions extends IssueCapabilityOptions {
  /** The token delegated from; `privateKey` must be its holder's (`aud`). */
  parent: string;
}

/**
 * Delegates a narrower token from `parent`: its grants must be covered by the parent's and its
 * lifetime must lie within the parent's (`invalid_argument` otherwise; verifiers check again).
 */
export function delegateCapability(options: DelegateCapabilityOptions): string {
  const parent = decode(options.parent, 'invalid_argument');
  return mint(options, parent);
}

/** The claims of a token, without checking anything (for display: `evdb token inspect`). */
export function inspectCapability(token: string): CapabilityClaims & { chain: CapabilityClaims[] } {
  const claims = decode(token, 'invalid_argument');
  const chain: CapabilityClaims[] = [];
  for (let link = claims.prf; link !== undefined;) {
    const parent = decode(link, 'invalid_argument');
    chain.push(parent);
    link = parent.prf;
  }
  return { ...claims, chain };
}

/** Whether a string has the shape of a capability token (three base64url parts). */
export function looksLikeCapability(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

export interface CapabilityVerifierOptions {
  mode?: CapabilityMode;
  /** Public keys of the issuers whose root tokens are accepted. */
  trustedIssuers?: string[];
  /** Ids of revoked tokens (a token is refused if it or any ancestor is revoked). */
  revoked?: Iterable<string>;
  /** Seconds since epoch; for tests. */
  clock?: () => number;
}

/** Checks capability tokens against the deployment's issuers, revocations and mode. */
export class CapabilityVerifier {
  readonly mode: CapabilityMode;
  private readonly trusted: Set<string>;
  private readonly revoked: Set<string>;
  private readonly clock: () => number;

  constructor(options: CapabilityVerifierOptions = {}) {
    this.mode = options.mode ?? 'optional';
    if (!['disabled', 'optional', 'required'].includes(this.mode)) {
      throw invalidArgument(`capability mode must be disabled, optional or required`);
    }
    this.trusted = new Set(options.trustedIssuers ?? []);
    for (const key of this.trusted) rawToPublic(key, 'invalid_argument');
    this.revoked = new Set(options.revoked ?? []);
    this.clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Revokes a token by id: it and every token delegated from it are refused from now on. */
  revoke(tokenId: string): void {
    this.revoked.add(tokenId);
  }

  /**
   * What the mode makes of a request: without a token, `required` refuses and the others let
   * other checks decide (undefined); a present token is always verified (and refused in
   * `disabled` mode) and must grant `action` on `resource`.
   */
  authorize(
    token: string | undefined,
    resource: string,
    action: string,
  ): CapabilityClaims | undefined {
    if (token === undefined) {
      if (this.mode === 'required') {
        throw refuse('missing', `this deployment requires a capability token for ${action}`);
      }
      return undefined;
    }
    const claims = this.verify(token);
    assertGranted(claims, resource, action);
    return claims;
  }

  /** Verifies a token and its chain; `unauthorized` with `details.reason` when it fails. */
  verify(token: string): CapabilityClaims {
    if (this.mode === 'disabled') {
      throw refuse('disabled', 'capability tokens are disabled on this deployment');
    }
    return this.verifyChain(token, 0, this.clock());
  }

  private verifyChain(token: string, depth: number, now: number): CapabilityClaims {
    if (depth >= CAPABILITY_LIMITS.maxChainDepth) {
      throw refuse(
        'malformed',
        `a delegation chain has at most ${CAPABILITY_LIMITS.maxChainDepth} tokens`,
      );
    }
    const claims = decode(token, 'unauthorized');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const key = rawToPublic(claims.iss, 'unauthorized');
    const signed = edVerify(
      null,
      Buffer.from(`${header}.${payload}`),
      key,
      Buffer.from(signature, 'base64url'),
    );
    if (!signed) throw refuse('bad_signature', 'the capability token signature does not verify');
    if (claims.prf === undefined) {
      if (!this.trusted.has(claims.iss)) {
        throw refuse('untrusted_issuer', 'the capability token was not issued by a trusted issuer');
      }
    } else {
      const parent = this.verifyChain(claims.prf, depth + 1, now);
      if (parent.aud !== claims.iss) {
        throw refuse(
          'bad_delegation',
          'a delegated token must be signed by its parent token’s holder',
        );
      }
      assertNarrower(claims, parent, 'unauthorized');
    }
    if (this.revoked.has(claims.jti))
      throw refuse('revoked', `capability ${claims.jti} was revoked`);
    if (claims.nbf > now + CAPABILITY_LIMITS.skewSeconds) {
      throw refuse('not_yet_valid', 'the capability token is not valid yet');
    }
    if (claims.exp <= now) throw refuse('expired', 'the capability token has expired');
    return claims;
  }
}

/** `unauthorized` (reason `wrong_resource` or `wrong_action`) unless a grant covers the need. */
export function assertGranted(claims: CapabilityClaims, resource: string, action: string): void {
  if (claims.grants.some((g) => covers(g, { resource, action }))) return;
  const actionAnywhere = claims.grants.some((g) => patternCovers(g.action, action, '/'));
  throw actionAnywhere
    ? refuse('wrong_resource', `the capability does not cover ${resource}`)
    : refuse('wrong_action', `the capability does not allow ${action}`);
}

/** Whether `grant` covers everything `need` names (need may itself be a pattern). */
export function covers(grant: CapabilityGrant, need: CapabilityGrant): boolean {
  return (
    patternCovers(grant.resource, need.resource, ':') &&
    patternCovers(grant.action, need.action, '/')
  );
}

/** `*` covers all; `kind<sep>*` covers everything of that kind; else only itself. */
function patternCovers(pattern: string, value: string, separator: string): boolean {
  if (pattern === '*' || pattern === value) return true;
  return pattern.endsWith(`${separator}*`) && value.startsWith(pattern.slice(0, -1));
}

function mint(options: IssueCapabilityOptions, parent: CapabilityClaims | undefined): string {
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('options must be an object');
  const key = privateKeyOf(options.privateKey);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const ttl = options.ttlSeconds ?? CAPABILITY_LIMITS.defaultTtlSeconds;
  if (
    !Number.isSafeInteger(ttl) ||
    ttl < CAPABILITY_LIMITS.minTtlSeconds ||
    ttl > CAPABILITY_LIMITS.maxTtlSeconds
  ) {
    throw invalidArgument(
      `ttlSeconds must be an integer from ${CAPABILITY_LIMITS.minTtlSeconds} to ${CAPABILITY_LIMITS.maxTtlSeconds}`,
    );
  }
  const nbf = options.notBefore ?? now;
  assertGrants(options.grants);
  if (options.holder !== undefined) rawToPublic(options.holder, 'invalid_argument');
  const claims: CapabilityClaims = {
    jti: uuidv7(),
    iss: rawPublicKey(createPublicKey(key)),
    iat: now,
    nbf,
    exp: nbf + ttl,
    grants: options.grants.map(({ resource, action }) => ({ resource, action })),
  };
  if (options.holder !== undefined) claims.aud = options.holder;
  if (parent !== undefined) {
    if (parent.aud !== claims.iss) {
      throw invalidArgument('only the holder of a token (its aud key) can delegate from it', {
        reason: 'bad_delegation',
      });
    }
    // Never outlive the parent: a delegation asked for longer ends with it.
    claims.exp = Math.min(claims.exp, parent.exp);
    claims.nbf = Math.max(claims.nbf, parent.nbf);
    claims.prf = (options as DelegateCapabilityOptions).parent;
    assertNarrower(claims, parent, 'invalid_argument');
  }
  const header = base64url(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' }));
  const payload = base64url(JSON.stringify(claims));
  const signature = edSign(null, Buffer.from(`${header}.${payload}`), key).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

function assertNarrower(
  child: CapabilityClaims,
  parent: CapabilityClaims,
  code: 'unauthorized' | 'invalid_argument',
): void {
  const wider = child.grants.find((grant) => !parent.grants.some((p) => covers(p, grant)));
  const fail = (message: string): never => {
    throw code === 'unauthorized'
      ? refuse('widened', message)
      : invalidArgument(message, { reason: 'widened' });
  };
  if (wider !== undefined) {
    fail(
      `a delegated token may not grant ${wider.action} on ${wider.resource}: its parent does not`,
    );
  }
  if (child.exp > parent.exp || child.nbf < parent.nbf) {
    fail('a delegated token may not live outside its parent’s lifetime');
  }
}

function assertGrants(grants: unknown): asserts grants is CapabilityGrant[] {
  if (
    !Array.isArray(grants) ||
    grants.length === 0 ||
    grants.length > CAPABILITY_LIMITS.maxGrants
  ) {
    throw invalidArgument(
      `grants must be a list of 1 to ${CAPABILITY_LIMITS.maxGrants} {resource, action}`,
    );
  }
  for (const grant of grants as unknown[]) {
    const { resource, action } = (grant ?? {}) as Partial<CapabilityGrant>;
    const ok = (value: unknown): boolean =>
      typeof value === 'string' &&
      value.length > 0 &&
      value.length <= 300 &&
      /^[\w:/*.$-]+$/.test(value);
    if (!ok(resource) || !ok(action)) {
      throw invalidArgument(
        `a grant is {resource, action}, e.g. {resource: 'store:a', action: 'stream/read'}`,
      );
    }
  }
}

/** Parses a token's claims, checking shapes; `code` is what a malformed token raises. */
function decode(token: unknown, code: 'unauthorized' | 'invalid_argument'): CapabilityClaims {
  const fail = (message: string): never => {
    throw code === 'unauthorized'
      ? refuse('malformed', message)
      : invalidArgument(message, { reason: 'malformed' });
  };
  if (
    typeof token !== 'string' ||
    token.length > CAPABILITY_LIMITS.maxTokenLength ||
    !looksLikeCapability(token)
  ) {
    return fail('not a capability token (header.payload.signature, base64url)');
  }
  const [header, payload] = token.split('.') as [string, string];
  let parsedHeader: unknown;
  let claims: Partial<CapabilityClaims>;
  try {
    parsedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    claims = JSON.parse(
      Buffer.from(payload, 'base64url').toString('utf8'),
    ) as Partial<CapabilityClaims>;
  } catch {
    return fail('the capability token is not readable JSON');
  }
  if ((parsedHeader as { alg?: unknown } | null)?.alg !== 'EdDSA')
    fail('capability tokens are signed with EdDSA');
  const isTime = (value: unknown): boolean => Number.isSafeInteger(value);
  if (
    typeof claims !== 'object' ||
    claims === null ||
    typeof claims.jti !== 'string' ||
    typeof claims.iss !== 'string' ||
    (claims.aud !== undefined && typeof claims.aud !== 'string') ||
    !isTime(claims.iat) ||
    !isTime(claims.nbf) ||
    !isTime(claims.exp) ||
    (claims.prf !== undefined && typeof claims.prf !== 'string')
  ) {
    return fail('the capability token lacks its claims');
  }
  try {
    assertGrants(claims.grants);
  } catch (error) {
    return fail((error as Error).message);
  }
  if ((claims.exp as number) - (claims.nbf as number) > CAPABILITY_LIMITS.maxTtlSeconds) {
    fail('a capability token lives at most 24 hours');
  }
  return claims as CapabilityClaims;
}

function refuse(reason: string, message: string): EvdbError {
  return new EvdbError('unauthorized', message, { details: { reason } });
}

function privateKeyOf(encoded: unknown): KeyObject {
  if (typeof encoded !== 'string')
    throw invalidArgument('privateKey must be a base64url PKCS#8 key');
  try {
    const key = createPrivateKey({
      key: Buffer.from(encoded, 'base64url'),
      format: 'der',
      type: 'pkcs8',
    });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
    return key;
  } catch (error) {
    throw invalidArgument(`privateKey is not an Ed25519 PKCS#8 key: ${(error as Error).message}`);
  }
}

function rawToPublic(raw: string, code: 'unauthorized' | 'invalid_argument'): KeyObject {
  try {
    if (!/^[A-Za-z0-9_-]{43}$/.test(raw)) throw new Error('not 32 bytes of base64url');
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw }, format: 'jwk' });
  } catch (error) {
    const message = `not an Ed25519 public key: ${(error as Error).message}`;
    throw code === 'unauthorized' ? refuse('malformed', message) : invalidArgument(message);
  }
}

function rawPublicKey(key: KeyObject): string {
  return key.export({ format: 'jwk' }).x as string;
}

function exportPrivate(key: KeyObject): string {
  return key.export({ format: 'der', type: 'pkcs8' }).toString('base64url');
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
