import type { EventRecord } from '../core/types.js';
import { encodeWire } from '../protocol/wire.js';

/**
 * The JSON text of events the live feed shares, by event. The feed hands one frozen object to
 * every subscription an event matches, so its text is made once however many remote
 * subscriptions it goes to. Held weakly: the text lives as long as the event does (the feed's
 * recent events and the subscriptions' queues).
 */
const sharedText = new WeakMap<EventRecord, string>();

/** An event in wire form, as JSON text. */
function eventText(event: EventRecord): string {
  let text = sharedText.get(event);
  if (text === undefined) {
    text = JSON.stringify(encodeWire(event, 'events'));
    // Only a frozen event is shared (and cannot change after its text was made).
    if (Object.isFrozen(event)) sharedText.set(event, text);
  }
  return text;
}

/** The text of `{type: 'batch', subscription, events}`, built from the events' texts. */
export function batchFrameText(subscription: number, events: EventRecord[]): string {
  let text = `{"type":"batch","subscription":${subscription},"events":[`;
  for (let i = 0; i < events.length; i++) {
    if (i > 0) text += ',';
    text += eventText(events[i] as EventRecord);
  }
  return `${text}]}`;
}
