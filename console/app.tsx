// The console's shell: sign-in with a token, the store picker, navigation, and the pages.
import { useEffect, useState } from 'preact/hooks';
import { errorMessage, fieldText } from './format.js';
import { useLoad } from './hooks.js';
import { CausationPage } from './pages/causation.js';
import { ChannelsPage } from './pages/channels.js';
import { EventPage } from './pages/event.js';
import { MaintenancePage } from './pages/maintenance.js';
import { OverviewPage } from './pages/overview.js';
import { QueriesPage } from './pages/queries.js';
import { StreamPage, StreamsPage } from './pages/streams.js';
import { SubscriptionsPage } from './pages/subscriptions.js';
import { TailPage } from './pages/tail.js';
import { STORELESS_PAGES, href, navigate, useRoute, type PageName, type Route } from './router.js';
import { closeSession, openSession, storedToken, type Session } from './session.js';

/** The navigation: every page that needs a store takes the selected one. */
const NAV: { page: PageName; label: string; needsStore: boolean }[] = [
  { page: 'overview', label: 'Overview', needsStore: false },
  { page: 'streams', label: 'Streams', needsStore: true },
  { page: 'all', label: '$all and queries', needsStore: true },
  { page: 'tail', label: 'Live tail', needsStore: true },
  { page: 'subscriptions', label: 'Subscriptions and links', needsStore: true },
  { page: 'causation', label: 'Causation', needsStore: true },
  { page: 'maintenance', label: 'Schemas, snapshots, archives', needsStore: true },
  { page: 'channels', label: 'Channels', needsStore: false },
];

/** Pages that belong under another page of the navigation. */
const NAV_PARENT: Partial<Record<PageName, PageName>> = { stream: 'streams', event: 'streams' };

export function App(): preact.JSX.Element {
  const [session, setSession] = useState<Session | undefined>();
  const [restoring, setRestoring] = useState(() => storedToken() !== undefined);
  const [problem, setProblem] = useState<string | undefined>();

  const signIn = async (token: string): Promise<void> => {
    setProblem(undefined);
    try {
      setSession(await openSession(token));
    } catch (error) {
      setProblem(errorMessage(error));
    }
  };

  // The tab's token, when it has one, signs in again after a reload.
  useEffect(() => {
    const token = storedToken();
    if (token === undefined) return;
    void signIn(token).finally(() => setRestoring(false));
  }, []);

  if (session === undefined) {
    if (restoring) return <p class="status">Connecting…</p>;
    return <SignIn onSignIn={signIn} problem={problem} />;
  }
  return (
    <Shell
      session={session}
      onSignOut={() => {
        void closeSession(session);
        setSession(undefined);
      }}
    />
  );
}

function SignIn(props: {
  onSignIn: (token: string) => Promise<void>;
  problem: string | undefined;
}): preact.JSX.Element {
  const [busy, setBusy] = useState(false);
  const onSubmit = (event: Event): void => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    void props.onSignIn(fieldText(data, 'token')).finally(() => setBusy(false));
  };
  return (
    <main class="sign-in" id="main">
      <h1>evdb console</h1>
      <form onSubmit={onSubmit}>
        <label>
          Token
          <input name="token" type="password" autoComplete="off" autoFocus />
        </label>
        <p class="note">
          Leave it empty for a server without tokens. The token is kept in this tab only
          (sessionStorage) until you sign out or close the tab.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {props.problem !== undefined && (
          <p class="error" role="alert">
            {props.problem}
          </p>
        )}
      </form>
    </main>
  );
}

function Shell(props: { session: Session; onSignOut: () => void }): preact.JSX.Element {
  const { session, onSignOut } = props;
  const route = useRoute();
  const stores = useLoad(() => session.client.listStores(), [session]);
  const storeId = STORELESS_PAGES.has(route.page) ? undefined : route.parts[0];
  const [lastStore, setLastStore] = useState<string | undefined>();
  useEffect(() => {
    if (storeId !== undefined) setLastStore(storeId);
  }, [storeId]);
  const selected = storeId ?? lastStore ?? stores.value?.[0];
  const current = NAV_PARENT[route.page] ?? route.page;

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <h1>
          <a href={href('overview')}>evdb console</a>
        </h1>
        <div class="store-picker">
          <label for="store-picker">Store</label>
          <select
            id="store-picker"
            value={selected ?? ''}
            onChange={(event) => {
              const next = event.currentTarget.value;
              setLastStore(next);
              if (!STORELESS_PAGES.has(route.page)) {
                navigate(href(NAV_PARENT[route.page] ?? route.page, [next]));
              }
            }}
          >
            {(stores.value ?? []).map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </div>
        <span class={`badge ${session.canWrite ? 'role-write' : 'role-read'}`} data-role>
          {session.canWrite ? 'read and write' : 'read-only'}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav class="main-nav" aria-label="Pages">
        <ul>
          {NAV.map((item) => (
            <li key={item.page}>
              <a
                href={
                  item.needsStore && selected !== undefined
                    ? href(item.page, [selected])
                    : href(item.page)
                }
                aria-current={current === item.page ? 'page' : undefined}
              >
                {item.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <Page session={session} route={route} storeId={selected} />
      </main>
    </>
  );
}

function Page(props: {
  session: Session;
  route: Route;
  storeId: string | undefined;
}): preact.JSX.Element {
  const { session, route, storeId } = props;
  if (route.page === 'overview') return <OverviewPage session={session} />;
  if (route.page === 'channels') return <ChannelsPage session={session} route={route} />;
  if (storeId === undefined) {
    return <p class="empty">This server has no stores yet (or the token may use none).</p>;
  }
  const second = route.parts[1];
  switch (route.page) {
    case 'streams':
      return <StreamsPage session={session} storeId={storeId} route={route} />;
    case 'stream':
      return second === undefined ? (
        <StreamsPage session={session} storeId={storeId} route={route} />
      ) : (
        <StreamPage session={session} storeId={storeId} streamId={second} route={route} />
      );
    case 'event':
      return second === undefined ? (
        <CausationPage session={session} storeId={storeId} id={undefined} />
      ) : (
        <EventPage session={session} storeId={storeId} eventId={second} />
      );
    case 'all':
      return <QueriesPage session={session} storeId={storeId} route={route} />;
    case 'tail':
      return <TailPage session={session} storeId={storeId} route={route} />;
    case 'subscriptions':
      return <SubscriptionsPage session={session} storeId={storeId} route={route} />;
    case 'causation':
      return <CausationPage session={session} storeId={storeId} id={second} />;
    case 'maintenance':
      return <MaintenancePage session={session} storeId={storeId} route={route} />;
  }
}
