import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import { memory, type NewEvent } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';
import { PARTS_HEADER, PARTS_LAYOUT, PartedAnswerReader } from '../src/protocol/wire.js';
import { PART_EVENTS } from '../src/gateway/dispatcher.js';

// Reads of more than PART_EVENTS events are answered in parts (Dispatcher.execute): over HTTP as
// one JSON body laid out in lines, over WebSocket as `part` frames before the result.
describe('reads answered in parts', () => {
  const total = 2 * PART_EVENTS + PART_EVENTS / 2;
  let server: EvdbServer;
  let http: EvdbClient;
  let ws: EvdbClient;
  before(async () => {
    server = await startServer({ port: 0, backend: memory() });
    await server.evdb.createStore('parts');
    for (let i = 0; i < total; i += 100) {
      const events = Array.from({ length: 100 }, (_, k): NewEvent => {
        const n = i + k;
        // Bytes and a marker-shaped object in later parts: each part is decoded on its own.
        if (n === PART_EVENTS + 7)
          return { eventType: 'Blob', data: new Uint8Array([1, 2, n & 255]) };
        if (n === 2 * PART_EVENTS + 3) return { eventType: 'Odd', data: { $bytes: 'not bytes' } };
        return { eventType: 'E', data: { n }, tags: n % 2 === 0 ? ['even'] : [] };
      });
      await server.evdb.appendEvents('parts', `s-${(i / 100) % 7}`, events);
    }
    http = await connect(server.url, { retry: { retries: 0 } });
    ws = await connect(server.url, { transport: 'websocket', WebSocket, retry: { retries: 0 } });
  });
  after(async () => {
    await http.close();
    await ws.close();
    await server.close();
  });

  it('gives the client over either transport what the embedded store reads', async () => {
    const expected = await server.evdb.readAllGlobal('parts', 0, total + 10);
    assert.equal(expected.length, total);
    for (const client of [http, ws]) {
      assert.deepEqual(await client.readAllGlobal('parts', 0, total + 10), expected);
      // Exactly two full parts remain: the last part is empty.
      const from = expected[total - 2 * PART_EVENTS]?.position as number;
      assert.deepEqual(
        await client.readAllGlobal('parts', from, 3 * PART_EVENTS),
        expected.slice(total - 2 * PART_EVENTS),
      );
      // A count that ends inside the second part.
      assert.deepEqual(
        await client.readAllGlobal('parts', 0, PART_EVENTS + 5),
        expected.slice(0, PART_EVENTS + 5),
      );
    }
  });

  it('sends over HTTP the JSON of a whole answer, one line per part', async () => {
    const response = await fetch(`${server.url}/rpc/readAllGlobal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ storeId: 'parts', fromPosition: 0, count: total }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get(PARTS_HEADER), PARTS_LAYOUT);
    const text = await response.text();
    const lines = text.split('\n');
    assert.deepEqual(
      [lines[0], lines.length, lines[lines.length - 1]],
      ['{"result":[', 2 + Math.ceil(total / PART_EVENTS), ']}'],
    );
    const body = JSON.parse(text) as { result: { position: number }[] };
    assert.equal(body.result.length, total);

    const rest = await fetch(`${server.url}/stores/parts/all?count=${total}`);
    assert.equal(rest.headers.get(PARTS_HEADER), PARTS_LAYOUT);
    const events = ((await rest.json()) as { events: { position: number }[] }).events;
    assert.deepEqual(
      events.map((e) => e.position),
      body.result.map((e) => e.position),
    );
  });

  it('answers reads of one part whole, and refuses bad counts as the store does', async () => {
    const response = await fetch(`${server.url}/stores/parts/all?count=${PART_EVENTS}`);
    assert.equal(response.headers.get(PARTS_HEADER), null);
    assert.equal(((await response.json()) as { events: unknown[] }).events.length, PART_EVENTS);
    for (const client of [http, ws]) {
      await assert.rejects(client.readAllGlobal('parts', 0, 100_001), {
        code: 'invalid_argument',
      });
      await assert.rejects(client.readAllGlobal('parts', -1, 5000), { code: 'invalid_argument' });
    }
  });

  it('reads the layout whatever the chunks, and refuses text in another layout', () => {
    const text =
      '{"result":[\n{"a":1},{"a":2}\n,{"$literal":{"$bytes":"x"}}\n,{"b":{"$bytes":"AQ=="}}\n]}';
    for (const size of [1, 3, 7, text.length]) {
      const reader = new PartedAnswerReader('{"result":[');
      for (let i = 0; i < text.length; i += size) reader.push(text.slice(i, i + size));
      assert.deepEqual(reader.end(']}'), [
        { a: 1 },
        { a: 2 },
        { $bytes: 'x' },
        { b: new Uint8Array([1]) },
      ]);
    }
    const missingComma = new PartedAnswerReader('{"result":[');
    assert.throws(() => missingComma.push('{"result":[\n{"a":1}\n{"a":2}\n'), {
      code: 'internal',
    });
    const cut = new PartedAnswerReader('{"result":[');
    cut.push('{"result":[\n{"a":1}\n');
    assert.throws(() => cut.end(']}'), { code: 'internal' });
  });
});
