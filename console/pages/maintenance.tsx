// Schemas, snapshots, scavenges and archives, read-only: what is registered and stored, a
// scavenge's dry run (what it would delete), and the archived ranges with their events. Schemas,
// snapshots and archived ranges are paged by the server, each list on its own.
import type { ScavengeResult } from 'evdb/client';
import { useState } from 'preact/hooks';
import { EventTable } from '../components/event-table.js';
import { KeysetPager, pageAt } from '../components/pager.js';
import { LoadStatus } from '../components/status.js';
import { errorMessage, fieldText, formatTime } from '../format.js';
import { useLoad } from '../hooks.js';
import { hrefWith, type Route } from '../router.js';
import type { Session } from '../session.js';

/** Schemas, snapshots and archived ranges a page. */
const ROWS_PER_PAGE = 50;

export function MaintenancePage(props: {
  session: Session;
  storeId: string;
  route: Route;
}): preact.JSX.Element {
  const { session, storeId, route } = props;
  const { client } = session;
  const archive = route.query.get('archive') ?? undefined;
  const schemasAfter = pageAt(route, 'schemas').after;
  const snapshotsAfter = pageAt(route, 'snapshots').after;
  const archivesAfter = pageAt(route, 'archives').after;
  const schemas = useLoad(
    () => client.listSchemaPage(storeId, { after: schemasAfter, limit: ROWS_PER_PAGE }),
    [client, storeId, schemasAfter],
  );
  const snapshots = useLoad(
    () => client.listSnapshotPage(storeId, { after: snapshotsAfter, limit: ROWS_PER_PAGE }),
    [client, storeId, snapshotsAfter],
  );
  const archives = useLoad(
    () => client.listArchivePage(storeId, { after: archivesAfter, limit: ROWS_PER_PAGE }),
    [client, storeId, archivesAfter],
  );
  const archived = useLoad(
    async () => (archive === undefined ? undefined : client.readArchive(storeId, archive)),
    [client, storeId, archive],
  );
  return (
    <>
      <h2>Schemas, snapshots, scavenges and archives</h2>
      <section aria-labelledby="schemas-heading">
        <h3 id="schemas-heading">Schemas</h3>
        <LoadStatus state={schemas} what="the schemas" />
        <div class="table-scroll">
          <table>
            <caption class="visually-hidden">Registered schemas</caption>
            <thead>
              <tr>
                <th scope="col">Event type</th>
                <th scope="col">Version</th>
                <th scope="col">Description</th>
                <th scope="col">Upcasters from</th>
                <th scope="col">Validates</th>
                <th scope="col">Registered</th>
              </tr>
            </thead>
            <tbody>
              {schemas.value?.schemas.length === 0 && (
                <tr>
                  <td colSpan={6} class="empty">
                    No schemas registered.
                  </td>
                </tr>
              )}
              {schemas.value?.schemas.map((schema) => (
                <tr key={schema.eventType}>
                  <th scope="row">{schema.eventType}</th>
                  <td class="num">{schema.version}</td>
                  <td>{schema.description ?? '—'}</td>
                  <td>{schema.upcasters.length === 0 ? '—' : schema.upcasters.join(', ')}</td>
                  <td>{schema.validates ? 'yes' : 'no'}</td>
                  <td>{formatTime(Date.parse(schema.registeredAt))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <KeysetPager
          label="Schema pages"
          route={route}
          list="schemas"
          next={schemas.value?.next ?? null}
        />
      </section>
      <section aria-labelledby="snapshots-heading">
        <h3 id="snapshots-heading">Snapshots</h3>
        <LoadStatus state={snapshots} what="the snapshots" />
        <div class="table-scroll">
          <table>
            <caption class="visually-hidden">Snapshots, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Stream</th>
                <th scope="col">Source</th>
                <th scope="col">Version</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {snapshots.value?.snapshots.length === 0 && (
                <tr>
                  <td colSpan={4} class="empty">
                    No snapshots.
                  </td>
                </tr>
              )}
              {snapshots.value?.snapshots.map((snapshot) => (
                <tr
                  key={`${snapshot.sourceUuid}\u0000${snapshot.streamUuid}\u0000${snapshot.version}`}
                >
                  <th scope="row">{snapshot.streamUuid}</th>
                  <td>{snapshot.sourceUuid}</td>
                  <td class="num">{snapshot.version}</td>
                  <td>{formatTime(Date.parse(snapshot.createdAt))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <KeysetPager
          label="Snapshot pages"
          route={route}
          list="snapshots"
          next={snapshots.value?.next ?? null}
        />
      </section>
      <ScavengePreview session={session} storeId={storeId} />
      <section aria-labelledby="archives-heading">
        <h3 id="archives-heading">Archives</h3>
        <p>Ranges of events a scavenge moved to the archive before deleting them.</p>
        <LoadStatus state={archives} what="the archives" />
        {archives.value?.archives.length === 0 && <p class="empty">No archives.</p>}
        <ul class="archive-list">
          {archives.value?.archives.map((key) => (
            <li key={key}>
              <a
                href={hrefWith(route, { archive: key })}
                aria-current={key === archive ? 'true' : undefined}
              >
                {key}
              </a>
            </li>
          ))}
        </ul>
        <KeysetPager
          label="Archive pages"
          route={route}
          list="archives"
          next={archives.value?.next ?? null}
        />
        {archive !== undefined && (
          <>
            <LoadStatus state={archived} what="the archived events" />
            <EventTable
              storeId={storeId}
              events={archived.value ?? []}
              showStream
              caption={`Events archived under ${archive}`}
            />
          </>
        )}
      </section>
    </>
  );
}

/** A scavenge's dry run: what it would delete, without deleting anything. */
function ScavengePreview(props: { session: Session; storeId: string }): preact.JSX.Element {
  const { session, storeId } = props;
  const [result, setResult] = useState<ScavengeResult | string | undefined>();
  const onSubmit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const keep = Number(data.get('keepVersions') ?? 0);
    const before = fieldText(data, 'beforeVersion');
    try {
      setResult(
        await session.client.scavengeDryRun(storeId, fieldText(data, 'streamId'), {
          keepVersions: keep,
          ...(before === '' ? {} : { beforeVersion: Number(before) }),
          requireSnapshot: data.get('requireSnapshot') === 'on',
        }),
      );
    } catch (error) {
      setResult(errorMessage(error));
    }
  };
  return (
    <section aria-labelledby="scavenge-heading">
      <h3 id="scavenge-heading">Scavenge preview</h3>
      <form class="toolbar" onSubmit={(event) => void onSubmit(event)}>
        <label>
          Stream id
          <input name="streamId" required />
        </label>
        <label>
          Before version (optional)
          <input name="beforeVersion" type="number" min={0} />
        </label>
        <label>
          Keep newest versions
          <input name="keepVersions" type="number" min={0} defaultValue="0" />
        </label>
        <label class="inline">
          <input name="requireSnapshot" type="checkbox" defaultChecked />
          Require a snapshot
        </label>
        <button type="submit">Dry run</button>
      </form>
      {typeof result === 'string' && (
        <p class="error" role="alert">
          {result}
        </p>
      )}
      {typeof result === 'object' && (
        <p role="status">
          A scavenge of {result.streamId} would delete {result.deletedCount} events
          {result.deletedVersions !== null &&
            ` (versions ${result.deletedVersions[0]}–${result.deletedVersions[1]})`}
          . Checked {formatTime(Date.now())}.
        </p>
      )}
    </section>
  );
}
