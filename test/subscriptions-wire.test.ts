import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { WS_PROTOCOL, type Frame } from '../src/protocol/frames.js';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';

/** A raw WebSocket to the server that keeps every message and every frame it receives. */
async function openSocket(url: string): Promise<{
  ws: WebSocket;
  messages: Frame[][];
  frames: () => Frame[];
  next: (match: (frame: Frame) => boolean) => Promise<Frame>;
}> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  const messages: Frame[][] = [];
  let wake = (): void => undefined;
  ws.on('message', (data: Buffer) => {
    const parsed = JSON.parse(data.toString('utf8')) as Frame | Frame[];
    messages.push(Array.isArray(parsed) ? parsed : [parsed]);
    wake();
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const frames = (): Frame[] => messages.flat();
  let seen = 0;
  /** The next frame (after those `next` returned before) that matches. */
  const next = async (match: (frame: Frame) => boolean): Promise<Frame> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const all = frames();
      for (; seen < all.length; seen++) {
        const frame = all[seen] as Frame;
        if (match(frame)) {
          seen++;
          return frame;
        }
      }
      assert.ok(Date.now() < deadline, `no matching frame in ${JSON.stringify(all)}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  };
  return { ws, messages, frames, next };
}

/** Waits until `done` holds of the frames received so far. */
async function until(frames: () => Frame[], done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    assert.ok(Date.now() < deadline, `not reached with ${JSON.stringify(frames())}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The `data.id` of the first event of a batch frame. */
const idsOf = (frame: Frame): number[] =>
  (frame.events as { data: { id: number } }[]).map((event) => event.data.id);

const append = (id: number, streamId: string, eventType = 'T'): string =>
  JSON.stringify({
    type: 'call',
    id,
    op: 'appendEvents',
    params: { storeId: 'wire', streamId, events: [{ eventType, data: { id } }] },
  });

const subscribe = (id: number, subscription: number, selector: string): string =>
  JSON.stringify({
    type: 'subscribe',
    id,
    subscription,
    storeId: 'wire',
    options: { type: 'by_event_type', selector },
    handler: true,
  });

describe('live subscription frames (WebSocket protocol 2)', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startServer({ port: 0, backend: memory() });
    await server.evdb.createStore('wire');
  });
  after(async () => {
    await server.close();
  });

  it('a delivery to a handler is a batch and an unanswered handled; credit is one batch', async () => {
    const { ws, frames, next } = await openSocket(server.url);
    const hello = await next((f) => f.type === 'hello');
    assert.equal(hello.protocol, WS_PROTOCOL);
    assert.equal(WS_PROTOCOL, 2);
    ws.send(subscribe(1, 1, 'A'));
    await next((f) => f.type === 'result' && f.id === 1);
    ws.send(append(2, 'a-1', 'A'));
    const first = await next((f) => f.type === 'batch' && f.subscription === 1);
    assert.deepEqual(
      (first.events as { data: unknown }[]).map((e) => e.data),
      [{ id: 2 }],
    );
    // No credit until `handled`: the next event waits.
    ws.send(append(3, 'a-1', 'A'));
    await next((f) => f.type === 'result' && f.id === 3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(frames().filter((f) => f.type === 'batch').length, 1);
    ws.send(JSON.stringify({ type: 'handled', subscription: 1, ok: true }));
    const second = await next((f) => f.type === 'batch' && f.subscription === 1);
    assert.deepEqual(
      (second.events as { data: unknown }[]).map((e) => e.data),
      [{ id: 3 }],
    );
    ws.send(JSON.stringify({ type: 'handled', subscription: 1, ok: true }));
    ws.send(JSON.stringify({ type: 'unsubscribe', id: 4, subscription: 1 }));
    await next((f) => f.type === 'result' && f.id === 4);
    // Every answer the connection got was for a request: none for the two `handled`.
    const answered = frames()
      .filter((f) => f.type === 'result' || f.type === 'error')
      .map((f) => f.id);
    assert.deepEqual(answered, [1, 2, 3, 4]);
    ws.close();
  });

  it('a refused notification ends its subscription with the problem; an unknown one is an error frame', async () => {
    const { ws, next } = await openSocket(server.url);
    ws.send(subscribe(1, 7, 'B'));
    await next((f) => f.type === 'result' && f.id === 1);
    // Nothing is being handled: client and server disagree, the subscription ends.
    ws.send(JSON.stringify({ type: 'handled', subscription: 7, ok: true }));
    const end = await next((f) => f.type === 'end' && f.subscription === 7);
    assert.equal((end.problem as { code: string }).code, 'invalid_argument');
    assert.match((end.problem as { detail: string }).detail, /no batch is being handled/);
    ws.send(JSON.stringify({ type: 'pull', subscription: 99, batches: 1 }));
    const error = await next((f) => f.type === 'error');
    assert.equal(error.id, null);
    assert.equal(error.subscription, 99);
    assert.equal((error.problem as { code: string }).code, 'not_found');
    // A request type sent without an id is still refused as a frame without an id.
    ws.send(JSON.stringify({ type: 'ack', subscription: 7, position: 0 }));
    const refused = await next((f) => f.type === 'error');
    assert.equal(refused.id, null);
    assert.match((refused.problem as { detail: string }).detail, /no integer id/);
    ws.close();
  });

  it("one commit's deliveries to several subscriptions of a connection leave as one message", async () => {
    const { ws, messages, next } = await openSocket(server.url);
    ws.send(`[${subscribe(1, 1, 'C')},${subscribe(2, 2, 'C')},${subscribe(3, 3, 'C')}]`);
    for (const id of [1, 2, 3]) await next((f) => f.type === 'result' && f.id === id);
    // The first event brings every subscription to the live feed; the second is measured.
    for (const [id, n] of [
      [10, 1],
      [11, 2],
    ] as const) {
      const before = messages.length;
      ws.send(append(id, `c-${n}`, 'C'));
      const batches: Frame[] = [];
      for (const subscription of [1, 2, 3]) {
        batches.push(await next((f) => f.type === 'batch' && f.subscription === subscription));
      }
      for (const subscription of [1, 2, 3]) {
        ws.send(JSON.stringify({ type: 'handled', subscription, ok: true }));
      }
      if (n === 1) continue;
      const carrying = messages
        .slice(before)
        .filter((message) => message.some((frame) => frame.type === 'batch'));
      assert.equal(carrying.length, 1, JSON.stringify(messages.slice(before)));
      const texts = batches.map((batch) => JSON.stringify(batch.events));
      assert.equal(new Set(texts).size, 1);
    }
    ws.close();
  });

  it('a handler with a window has that many batches in flight; handled may count several', async () => {
    const { ws, frames, next } = await openSocket(server.url);
    const opening = JSON.parse(subscribe(1, 1, 'W')) as Frame;
    ws.send(JSON.stringify({ ...opening, window: 9 }));
    const answer = await next((f) => f.type === 'result' && f.id === 1);
    assert.equal((answer.result as { window: number }).window, 4, "capped at the server's");
    // One event per batch: each append is its own commit, each batch sent once the last left.
    const batchesOf = (): Frame[] => frames().filter((f) => f.type === 'batch');
    for (let id = 10; id < 16; id++) {
      ws.send(append(id, 'w-1', 'W'));
      await next((f) => f.type === 'result' && f.id === id);
    }
    await until(frames, () => batchesOf().some((f) => idsOf(f).includes(13)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(batchesOf().length, 4, 'four in flight, the rest wait');
    ws.send(JSON.stringify({ type: 'handled', subscription: 1, ok: true, batches: 2 }));
    await until(frames, () => batchesOf().some((f) => idsOf(f).includes(15)));
    // The events that waited leave together, as one batch.
    assert.deepEqual(batchesOf().map(idsOf), [[10], [11], [12], [13], [14, 15]]);
    // More handled than in flight is refused, and ends the subscription.
    ws.send(JSON.stringify({ type: 'handled', subscription: 1, ok: true, batches: 5 }));
    const end = await next((f) => f.type === 'end' && f.subscription === 1);
    assert.match(
      (end.problem as { detail: string }).detail,
      /5 batches handled, 3 are being handled/,
    );
    ws.close();
  });

  it('a failed batch in a window voids those sent after it (discard) and comes again', async () => {
    const { ws, frames, next } = await openSocket(server.url);
    const opening = JSON.parse(subscribe(1, 1, 'F')) as Frame;
    ws.send(
      JSON.stringify({
        ...opening,
        options: { ...(opening.options as object), ackTimeoutMs: 100 },
        window: 4,
      }),
    );
    await next((f) => f.type === 'result' && f.id === 1);
    for (let id = 20; id < 23; id++) {
      ws.send(append(id, 'f-1', 'F'));
      await next((f) => f.type === 'result' && f.id === id);
    }
    const sequence = (): (number | string)[] =>
      frames()
        .filter((f) => f.type === 'batch' || f.type === 'discard')
        .flatMap((f): (number | string)[] => (f.type === 'discard' ? ['discard'] : idsOf(f)));
    await until(frames, () => sequence().includes(22));
    // The first is handled, the second fails: the third was sent already and is void.
    ws.send(JSON.stringify({ type: 'handled', subscription: 1, ok: true }));
    ws.send(JSON.stringify({ type: 'handled', subscription: 1, ok: false }));
    // After ackTimeoutMs, delivery starts again at the failed batch, in order.
    await until(frames, () => sequence().length === 6);
    assert.deepEqual(sequence(), [20, 21, 22, 'discard', 21, 22]);
    ws.close();
  });
});
