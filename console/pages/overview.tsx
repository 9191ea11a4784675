// Overview: every store's counts, head and write rate; this node and the cluster's members with
// their health and memory level; a live chart of the write rate.
import type { HealthReport, MemoryStats, StoreStatus } from 'evdb/client';
import { useRef } from 'preact/hooks';
import { TimeChart } from '../components/time-chart.js';
import { LoadStatus } from '../components/status.js';
import { formatBytes, formatCount, formatDuration, formatRate, formatTime } from '../format.js';
import { useLoad } from '../hooks.js';
import { href } from '../router.js';
import type { Session } from '../session.js';

const POLL_MS = 1_000;
/** Samples kept for the chart: two minutes at one a second. */
const SAMPLES = 120;
/** Stores drawn on the chart; the table lists them all. */
const CHARTED_STORES = 7;

interface Sample {
  at: number;
  stores: StoreStatus[];
}

export function OverviewPage(props: { session: Session }): preact.JSX.Element {
  const { client } = props.session;
  const samples = useRef<Sample[]>([]);
  const stores = useLoad(
    async () => {
      const ids = await client.listStores();
      const statuses = await Promise.all(ids.map((id) => client.getStoreStatus(id)));
      const list = samples.current;
      list.push({ at: Date.now(), stores: statuses });
      if (list.length > SAMPLES) list.splice(0, list.length - SAMPLES);
      return statuses;
    },
    [client],
    POLL_MS,
  );
  const node = useLoad(
    async () => {
      const [health, memory] = await Promise.all([client.health(), client.getMemoryStats()]);
      return { health, memory };
    },
    [client],
    2 * POLL_MS,
  );

  const history = samples.current;
  const rateOf = (storeId: string, index: number): number | null => {
    const now = history[index];
    const before = history[index - 1];
    const a = before?.stores.find((s) => s.storeId === storeId);
    const b = now?.stores.find((s) => s.storeId === storeId);
    if (now === undefined || before === undefined || a === undefined || b === undefined)
      return null;
    return Math.max(0, b.totalEvents - a.totalEvents) / ((now.at - before.at) / 1000);
  };
  const charted = (stores.value ?? []).slice(0, CHARTED_STORES);

  return (
    <>
      <h2>Overview</h2>
      <section aria-labelledby="stores-heading">
        <h3 id="stores-heading">Stores</h3>
        <LoadStatus state={stores} what="the stores" />
        <div class="table-scroll">
          <table>
            <caption class="visually-hidden">Stores</caption>
            <thead>
              <tr>
                <th scope="col">Store</th>
                <th scope="col">Backend</th>
                <th scope="col">Events</th>
                <th scope="col">Streams</th>
                <th scope="col">Head position</th>
                <th scope="col">Write rate</th>
              </tr>
            </thead>
            <tbody>
              {(stores.value ?? []).map((store) => (
                <tr key={store.storeId} data-store={store.storeId}>
                  <th scope="row">
                    <a href={href('streams', [store.storeId])}>{store.storeId}</a>
                  </th>
                  <td>{store.backend}</td>
                  <td class="num">{formatCount(store.totalEvents)}</td>
                  <td class="num">{formatCount(store.streamCount)}</td>
                  <td class="num">{store.lastPosition}</td>
                  <td class="num">
                    {formatRate(rateOf(store.storeId, history.length - 1) ?? 0, 'events')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <TimeChart
          title="Write rate (events per second)"
          unit="events/s"
          times={history.map((s) => s.at)}
          series={charted.map((store) => ({
            label: store.storeId,
            values: history.map((_, i) => rateOf(store.storeId, i)),
          }))}
        />
      </section>
      <section aria-labelledby="node-heading">
        <h3 id="node-heading">Node and cluster</h3>
        <LoadStatus state={node} what="the node's health" />
        {node.value !== undefined && (
          <NodeFacts health={node.value.health} memory={node.value.memory} />
        )}
      </section>
    </>
  );
}

function NodeFacts(props: { health: HealthReport; memory: MemoryStats }): preact.JSX.Element {
  const { health, memory } = props;
  const now = Date.now();
  return (
    <>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <span class={`badge ${health.status}`}>{health.status}</span>
        </dd>
        <dt>This node</dt>
        <dd>
          <code>{health.node.nodeId}</code> on {health.node.host}, up{' '}
          {formatDuration(health.node.uptimeMs)}
        </dd>
        <dt>Memory</dt>
        <dd>
          <span class={`badge memory-${memory.level}`}>{memory.level}</span>{' '}
          {formatBytes(memory.used)} of {formatBytes(memory.total)}, checked{' '}
          {formatTime(memory.lastCheck)}
        </dd>
      </dl>
      <div class="table-scroll">
        <table>
          <caption>
            Cluster members: the workers heart-beating for the stores (each node reports its own
            memory level)
          </caption>
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Host</th>
              <th scope="col">URL</th>
              <th scope="col">Started</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Health</th>
              <th scope="col">Memory</th>
            </tr>
          </thead>
          <tbody>
            {health.workers.map((worker) => {
              const self = worker.nodeId === health.node.nodeId;
              return (
                <tr key={worker.nodeId}>
                  <th scope="row">
                    <code>{worker.nodeId}</code>
                    {self && ' (this node)'}
                  </th>
                  <td>{worker.host}</td>
                  <td>{worker.url ?? '—'}</td>
                  <td>{formatTime(worker.startedAt)}</td>
                  <td>{formatDuration(Math.max(0, now - worker.lastHeartbeat))} ago</td>
                  <td>{self ? health.status : 'live'}</td>
                  <td>{self ? memory.level : '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <div class="table-scroll">
        <table>
          <caption>Store health on this node</caption>
          <thead>
            <tr>
              <th scope="col">Store</th>
              <th scope="col">Status</th>
              <th scope="col">Check latency</th>
              <th scope="col">Workers</th>
            </tr>
          </thead>
          <tbody>
            {health.stores.map((store) => (
              <tr key={store.storeId}>
                <th scope="row">{store.storeId}</th>
                <td>
                  <span class={`badge ${store.status}`}>{store.status}</span>
                  {store.error !== undefined && ` ${store.error.code}: ${store.error.message}`}
                </td>
                <td class="num">{store.latencyMs.toFixed(1)} ms</td>
                <td class="num">{store.workers}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
