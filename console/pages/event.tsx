// One event, found by its id: the API has no read by event id, but an event's causation chain
// (root … the event) ends with the event itself.
import { EventView } from '../components/event-view.js';
import { LoadStatus } from '../components/status.js';
import { useLoad } from '../hooks.js';
import type { Session } from '../session.js';

export function EventPage(props: {
  session: Session;
  storeId: string;
  eventId: string;
}): preact.JSX.Element {
  const { session, storeId, eventId } = props;
  const event = useLoad(async () => {
    const chain = await session.client.getCausationChain(storeId, eventId);
    const found = chain.at(-1);
    if (found?.eventId !== eventId) throw new Error(`no event with id ${eventId} in ${storeId}`);
    return found;
  }, [session, storeId, eventId]);
  return (
    <>
      <h2>Event {event.value !== undefined && <>{event.value.eventType}</>}</h2>
      <LoadStatus state={event} what="the event" />
      {event.value !== undefined && <EventView storeId={storeId} event={event.value} />}
    </>
  );
}
