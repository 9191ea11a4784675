import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readRevocationFile } from '../gateway/capability-auth.js';
import {
  delegateCapability,
  generateCapabilityKeys,
  inspectCapability,
  issueCapability,
  looksLikeCapability,
  type CapabilityGrant,
} from '../channels/capability-tokens.js';
import { UsageError, int, parse, positionals, str, type Parsed } from './args.js';

export const TOKEN_HELP = `evdb token — capability tokens (Ed25519, JWT-shaped)

Usage:
  evdb token keygen                         a new key pair, as JSON {publicKey, privateKey}
  evdb token issue --key <k> --grant <g>…   a root token signed by an issuer's private key
  evdb token delegate <parent> --key <k> --grant <g>…
                                            a narrower token, signed by the parent's holder
  evdb token inspect <token>                the claims of a token and its chain (not verified)
  evdb token revoke <token|id> --file <f>   adds the token's id to a revocation list (JSON), which
                                            servers given --capability-revocations <f> watch

Options of issue and delegate:
  --key <k>        the signing private key (base64url PKCS#8), or @file, or EVDB_CAPABILITY_KEY
  --grant <g>      resource=action, e.g. store:a=stream/read, channel:*=channel/publish (repeatable)
  --ttl <s>        lifetime in seconds, 60 to 86400 (default 900)
  --holder=<pub>   the public key of who may delegate from the token (with "=": a key may
                   start with "-")`;

/** Runs `evdb token …`; prints its result. */
export function runTokenCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): void {
  const [sub, ...rest] = args;
  const parsed = parse(
    rest,
    {
      key: { type: 'string' },
      grant: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      holder: { type: 'string' },
      file: { type: 'string' },
    },
    TOKEN_HELP,
  );
  if (sub === undefined || sub === '--help' || sub === '-h' || parsed.values.help === true) {
    out(TOKEN_HELP);
    return;
  }
  switch (sub) {
    case 'keygen':
      positionals(parsed, [], TOKEN_HELP);
      out(JSON.stringify(generateCapabilityKeys()));
      return;
    case 'issue':
      positionals(parsed, [], TOKEN_HELP);
      out(issueCapability(mintOptions(parsed, env)));
      return;
    case 'delegate': {
      const [parent] = positionals(parsed, ['parent'], TOKEN_HELP) as [string];
      out(delegateCapability({ ...mintOptions(parsed, env), parent }));
      return;
    }
    case 'inspect': {
      const [token] = positionals(parsed, ['token'], TOKEN_HELP) as [string];
      // The parent tokens are shown decoded in `chain`, not as their raw text.
      const claims: Partial<ReturnType<typeof inspectCapability>> = inspectCapability(token);
      delete claims.prf;
      out(JSON.stringify(claims, null, 2));
      return;
    }
    case 'revoke': {
      const [target] = positionals(parsed, ['token|id'], TOKEN_HELP) as [string];
      const file = str(parsed, 'file');
      if (file === undefined)
        throw new UsageError('revoke needs --file <revocations.json>', TOKEN_HELP);
      const id = looksLikeCapability(target) ? inspectCapability(target).jti : target;
      const ids = readRevocationFile(file);
      if (!ids.includes(id)) ids.push(id);
      // Written whole then renamed, so a server watching the file never reads half of it.
      writeFileSync(`${file}.tmp`, JSON.stringify(ids, null, 2) + '\n');
      renameSync(`${file}.tmp`, file);
      out(`revoked ${id}`);
      return;
    }
    default:
      throw new UsageError(`unknown token command ${JSON.stringify(sub)}`, TOKEN_HELP);
  }
}

function mintOptions(
  parsed: Parsed,
  env: NodeJS.ProcessEnv,
): { privateKey: string; grants: CapabilityGrant[]; ttlSeconds?: number; holder?: string } {
  let key = str(parsed, 'key') ?? env.EVDB_CAPABILITY_KEY;
  if (key === undefined || key === '') {
    throw new UsageError(
      'give the signing key: --key <k>, --key @file or EVDB_CAPABILITY_KEY',
      TOKEN_HELP,
    );
  }
  if (key.startsWith('@')) key = readFileSync(key.slice(1), 'utf8').trim();
  const grants = ((parsed.values.grant as string[] | undefined) ?? []).map((text) => {
    const at = text.lastIndexOf('=');
    if (at <= 0 || at === text.length - 1) {
      throw new UsageError(`a grant is resource=action, got ${JSON.stringify(text)}`, TOKEN_HELP);
    }
    return { resource: text.slice(0, at), action: text.slice(at + 1) };
  });
  if (grants.length === 0) throw new UsageError('give at least one --grant', TOKEN_HELP);
  const ttlSeconds = int(parsed, 'ttl', TOKEN_HELP, 0);
  const holder = str(parsed, 'holder');
  return {
    privateKey: key,
    grants,
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    ...(holder === undefined ? {} : { holder }),
  };
}
