// The console's connection: the package's own network client over WebSocket (calls and live
// subscriptions), with the token typed in once and kept for the browser tab in sessionStorage.
import { connect, isEvdbError, type EvdbClient } from 'evdb/client';

const TOKEN_KEY = 'evdb.console.token';

export interface Session {
  client: EvdbClient;
  /** False for a read token: the console hides its write actions (the server refuses them). */
  canWrite: boolean;
}

/** The token of this tab: undefined when none was given yet, '' for a server without tokens. */
export function storedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export async function openSession(token: string): Promise<Session> {
  const client = await connect(location.origin, {
    token: token === '' ? undefined : token,
    transport: 'websocket',
    timeoutMs: 20_000,
    retry: { retries: 3, max: 2_000 },
  });
  try {
    // Proves the token before anything is shown.
    await client.listStores();
    const canWrite = await probeWriteRole(client);
    sessionStorage.setItem(TOKEN_KEY, token);
    return { client, canWrite };
  } catch (error) {
    await client.close();
    throw error;
  }
}

export async function closeSession(session: Session | undefined): Promise<void> {
  sessionStorage.removeItem(TOKEN_KEY);
  await session?.client.close();
}

/**
 * Whether the token has the write role. The API has no "who am I" call, but the gateway checks
 * a caller's role before it looks at the parameters: a write call with a parameter of the wrong
 * type is refused as `unauthorized` for a read token and as `invalid_argument` otherwise, and
 * does nothing either way.
 */
async function probeWriteRole(client: EvdbClient): Promise<boolean> {
  try {
    await client.withOptions({ retry: { retries: 0 } }).startLink('console', 0 as never);
  } catch (error) {
    if (isEvdbError(error) && error.code === 'unauthorized') return false;
    if (isEvdbError(error) && error.code === 'invalid_argument') return true;
    throw error;
  }
  throw new Error('the write-role probe was accepted; the server should have refused it');
}
