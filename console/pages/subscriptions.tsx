// Subscriptions and links: definitions, checkpoints, lag in events and time, delivery rate
// (how fast the checkpoint moves), and a chart of the lag; both lists paged by the server.
import type { LinkDefinition, LinkInfo, SubscriptionInfo, SubscriptionLag } from 'evdb/client';
import { useRef, useState } from 'preact/hooks';
import { KeysetPager, pageAt } from '../components/pager.js';
import { LoadStatus } from '../components/status.js';
import { TimeChart } from '../components/time-chart.js';
import { errorMessage, formatCount, formatDuration, formatRate } from '../format.js';
import { useLoad } from '../hooks.js';
import { href, type Route } from '../router.js';
import type { Session } from '../session.js';

const POLL_MS = 2_000;
const SAMPLES = 90;
const CHARTED = 7;
/**
 * Subscriptions (and links) a page: every row costs a call or two at every poll (its lag, the
 * age of its oldest unprocessed event), so pages are shorter than elsewhere.
 */
const ROWS_PER_PAGE = 20;

interface SubscriptionRow {
  info: SubscriptionInfo;
  lag: SubscriptionLag;
  /** Age of the oldest event after the checkpoint: the lag in time (at most). */
  lagMs: number;
}

interface Sample {
  at: number;
  subscriptions: SubscriptionRow[];
  links: { definition: LinkDefinition; info: LinkInfo }[];
  head: number;
  /** The cursors of the pages after the ones shown. */
  nextSubscriptions: string | null;
  nextLinks: string | null;
}

export function SubscriptionsPage(props: {
  session: Session;
  storeId: string;
  route: Route;
}): preact.JSX.Element {
  const { session, storeId, route } = props;
  const { client } = session;
  const subscriptionsAfter = pageAt(route, 'subscriptions').after;
  const linksAfter = pageAt(route, 'links').after;
  /** The samples of the rows on screen: another store or page starts the chart again. */
  const history = useRef<{ pages: string; samples: Sample[] }>({ pages: '', samples: [] });
  const pages = [storeId, subscriptionsAfter ?? '', linksAfter ?? ''].join('\u0000');
  if (history.current.pages !== pages) history.current = { pages, samples: [] };
  const [message, setMessage] = useState<string | undefined>();
  const state = useLoad(
    async (): Promise<Sample> => {
      // Taken now: a load that ends after the page changed records into the old page's samples.
      const record = history.current;
      const [subscriptions, links, status] = await Promise.all([
        client.listSubscriptionPage(storeId, { after: subscriptionsAfter, limit: ROWS_PER_PAGE }),
        client.listLinkPage(storeId, { after: linksAfter, limit: ROWS_PER_PAGE }),
        client.getStoreStatus(storeId),
      ]);
      const now = Date.now();
      const rows = await Promise.all(
        subscriptions.subscriptions.map(async (info): Promise<SubscriptionRow> => {
          const lag = await client.subscriptionLag(storeId, info.name);
          const [oldest] =
            lag.lagEvents > 0 ? await client.readAllGlobal(storeId, lag.checkpoint + 1, 1) : [];
          return {
            info,
            lag,
            lagMs: oldest === undefined ? 0 : Math.max(0, now - oldest.timestamp),
          };
        }),
      );
      const linkRows = await Promise.all(
        links.links.map(async (definition) => ({
          definition,
          info: await client.linkInfo(storeId, definition.name),
        })),
      );
      const sample: Sample = {
        at: now,
        subscriptions: rows,
        links: linkRows,
        head: status.lastPosition,
        nextSubscriptions: subscriptions.next,
        nextLinks: links.next,
      };
      const list = record.samples;
      if (list[0] !== undefined && (list.at(-1) as Sample).head > sample.head) list.length = 0;
      list.push(sample);
      if (list.length > SAMPLES) list.splice(0, list.length - SAMPLES);
      return sample;
    },
    [client, storeId, subscriptionsAfter, linksAfter],
    POLL_MS,
  );

  const samples = history.current.samples;
  /** Positions per second the checkpoint moved over the last samples (up to ten seconds). */
  const rateOf = (position: (s: Sample) => number | undefined): number | undefined => {
    const last = samples.at(-1);
    const first = samples[Math.max(0, samples.length - 6)];
    if (last === undefined || first === undefined || first === last) return undefined;
    const a = position(first);
    const b = position(last);
    if (a === undefined || b === undefined) return undefined;
    return Math.max(0, b - a) / ((last.at - first.at) / 1000);
  };

  const act = async (what: string, action: () => Promise<unknown>): Promise<void> => {
    try {
      await action();
      setMessage(`${what}: done.`);
      state.reload();
    } catch (error) {
      setMessage(`${what}: ${errorMessage(error)}`);
    }
  };

  const sample = state.value;
  const charted = (sample?.subscriptions ?? []).slice(0, CHARTED);
  return (
    <>
      <h2>Subscriptions and links</h2>
      <LoadStatus state={state} what="the subscriptions" />
      {message !== undefined && <p role="status">{message}</p>}
      <div class="table-scroll">
        <table>
          <caption>Persistent subscriptions (head position {sample?.head ?? '—'})</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Selector</th>
              <th scope="col">Checkpoint</th>
              <th scope="col">Lease held by</th>
              <th scope="col">Lag (events)</th>
              <th scope="col">Lag (time, at most)</th>
              <th scope="col">Delivery rate</th>
              {session.canWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {sample?.subscriptions.length === 0 && (
              <tr>
                <td colSpan={9} class="empty">
                  No persistent subscriptions.
                </td>
              </tr>
            )}
            {sample?.subscriptions.map(({ info, lag, lagMs }) => {
              const rate = rateOf(
                (s) => s.subscriptions.find((r) => r.info.name === info.name)?.lag.checkpoint,
              );
              return (
                <tr key={info.name} data-subscription={info.name}>
                  <th scope="row">{info.name}</th>
                  <td>{info.type}</td>
                  <td>
                    <code>{JSON.stringify(info.selector)}</code>
                  </td>
                  <td class="num">{info.checkpoint}</td>
                  <td data-lease-holder={info.leaseHolder ?? ''}>
                    {info.leaseHolder === null ? 'none' : <code>{info.leaseHolder}</code>}
                  </td>
                  <td class="num" data-lag-events={lag.lagEvents}>
                    {lag.exact ? '' : '≤ '}
                    {formatCount(lag.lagEvents)}
                  </td>
                  <td class="num">{lagMs === 0 ? '—' : formatDuration(lagMs)}</td>
                  <td class="num">{rate === undefined ? '—' : formatRate(rate, 'positions')}</td>
                  {session.canWrite && (
                    <td>
                      <button
                        type="button"
                        data-write-action="remove-subscription"
                        onClick={() => {
                          if (!confirm(`Remove the subscription ${info.name}?`)) return;
                          void act(`Remove ${info.name}`, () =>
                            client.removeSubscription(storeId, info.type, info.selector, info.name),
                          );
                        }}
                      >
                        Remove
                      </button>
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <KeysetPager
        label="Subscription pages"
        route={route}
        list="subscriptions"
        next={sample?.nextSubscriptions ?? null}
      />
      <TimeChart
        title="Subscription lag (events)"
        unit="events"
        times={samples.map((s) => s.at)}
        series={charted.map((row) => ({
          label: row.info.name,
          values: samples.map(
            (s) =>
              s.subscriptions.find((r) => r.info.name === row.info.name)?.lag.lagEvents ?? null,
          ),
        }))}
      />
      <div class="table-scroll">
        <table>
          <caption>Links (derived streams)</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Source</th>
              <th scope="col">Filter</th>
              <th scope="col">Status</th>
              <th scope="col">Processed</th>
              <th scope="col">Last position</th>
              <th scope="col">Lag (positions)</th>
              <th scope="col">Rate</th>
              <th scope="col">Run here</th>
              {session.canWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {sample?.links.length === 0 && (
              <tr>
                <td colSpan={10} class="empty">
                  No links.
                </td>
              </tr>
            )}
            {sample?.links.map(({ definition, info }) => {
              const rate = rateOf(
                (s) => s.links.find((l) => l.info.name === info.name)?.info.lastPosition,
              );
              return (
                <tr key={info.name} data-link={info.name}>
                  <th scope="row">
                    <a href={href('stream', [storeId, info.linkStream])}>{info.name}</a>
                  </th>
                  <td>{sourceText(definition.source)}</td>
                  <td>
                    {definition.filter === undefined ? (
                      '—'
                    ) : (
                      <code>{JSON.stringify(definition.filter)}</code>
                    )}
                    {(definition.code.filter || definition.code.transform) && ' + code'}
                  </td>
                  <td>
                    {info.status}
                    {info.lastError !== undefined && (
                      <span class="error"> (retrying: {info.lastError})</span>
                    )}
                  </td>
                  <td class="num">{formatCount(info.processed)}</td>
                  <td class="num">{info.lastPosition}</td>
                  <td class="num">{Math.max(0, (sample.head ?? 0) - info.lastPosition)}</td>
                  <td class="num">{rate === undefined ? '—' : formatRate(rate, 'positions')}</td>
                  <td>{info.active ? 'yes' : 'no'}</td>
                  {session.canWrite && (
                    <td>
                      {info.status === 'running' ? (
                        <button
                          type="button"
                          data-write-action="stop-link"
                          onClick={() =>
                            void act(`Stop ${info.name}`, () => client.stopLink(storeId, info.name))
                          }
                        >
                          Stop
                        </button>
                      ) : (
                        <button
                          type="button"
                          data-write-action="start-link"
                          onClick={() =>
                            void act(`Start ${info.name}`, () =>
                              client.startLink(storeId, info.name),
                            )
                          }
                        >
                          Start
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <KeysetPager label="Link pages" route={route} list="links" next={sample?.nextLinks ?? null} />
      <p class="note">
        Delivery rate is how fast a checkpoint moves, in positions per second. The lag in time is
        the age of the first event after the checkpoint. The lease holder is the node delivering a
        subscription to its consumer now; for links, "Run here" says whether this node runs it.
      </p>
    </>
  );
}

function sourceText(source: LinkDefinition['source']): string {
  if (source.type === 'stream') return `stream ${source.streamId}`;
  if (source.type === 'stream_pattern') return `streams ${source.pattern}`;
  return '$all';
}
