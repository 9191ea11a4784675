// Causation: the graph around an event (its causes and effects) or of a correlation id, drawn
// as a graph; clicking a node, or a row of the list beside it, opens that event.
import type { CausationGraph } from 'evdb/client';
import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { LoadStatus } from '../components/status.js';
import { errorMessage, fieldText, formatTime } from '../format.js';
import { useLoad } from '../hooks.js';
import { href, navigate } from '../router.js';
import type { Session } from '../session.js';

const MAX_NODES = 300;

type GraphView = FunctionComponent<{
  graph: CausationGraph;
  focus: string;
  onOpen: (eventId: string) => void;
}>;

export function CausationPage(props: {
  session: Session;
  storeId: string;
  id: string | undefined;
}): preact.JSX.Element {
  const { session, storeId, id } = props;
  const [View, setView] = useState<GraphView | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  useEffect(() => {
    import('../components/causation-graph.js').then(
      (module) => setView(() => module.default),
      (error: unknown) => setLoadError(errorMessage(error)),
    );
  }, []);
  const graph = useLoad(
    async () =>
      id === undefined
        ? undefined
        : session.client.buildCausationGraph(storeId, id, { maxNodes: MAX_NODES }),
    [session, storeId, id],
  );
  const onSubmit = (event: Event): void => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    navigate(href('causation', [storeId, fieldText(data, 'id').trim()]));
  };
  const nodes = [...(graph.value?.nodes ?? [])].sort((a, b) => a.position - b.position);
  const typeOf = new Map(nodes.map((node) => [node.eventId, node.eventType]));
  return (
    <>
      <h2>Causation</h2>
      <form class="toolbar" onSubmit={onSubmit} key={id}>
        <label>
          Event id or correlation id
          <input name="id" defaultValue={id ?? ''} required size={40} />
        </label>
        <button type="submit">Show graph</button>
      </form>
      {id !== undefined && <LoadStatus state={graph} what="the graph" />}
      {loadError !== undefined && (
        <p class="error" role="alert">
          Could not load the graph drawing: {loadError}
        </p>
      )}
      {graph.value !== undefined && (
        <>
          <p>
            {nodes.length} events, {graph.value.edges.length} causation links
            {graph.value.truncated && ` (only the first ${MAX_NODES})`}.
          </p>
          {nodes.length > 0 && View !== undefined && (
            <View
              graph={graph.value}
              focus={id ?? ''}
              onOpen={(eventId) => navigate(href('event', [storeId, eventId]))}
            />
          )}
          <div class="table-scroll">
            <table class="causation-list">
              <caption>Events of the graph, in log order</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Stream @ version</th>
                  <th scope="col">Position</th>
                  <th scope="col">Caused by</th>
                  <th scope="col">Time</th>
                </tr>
              </thead>
              <tbody>
                {nodes.map((node) => (
                  <tr key={node.eventId} data-node={node.eventType}>
                    <th scope="row">
                      <a href={href('event', [storeId, node.eventId])}>{node.eventType}</a>
                      {node.eventId === id && ' (this event)'}
                    </th>
                    <td>
                      {node.streamId} @ {node.version}
                    </td>
                    <td class="num">{node.position}</td>
                    <td>
                      {node.causationId === undefined
                        ? '—'
                        : (typeOf.get(node.causationId) ?? node.causationId)}
                    </td>
                    <td>{formatTime(node.epochUs / 1000)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
