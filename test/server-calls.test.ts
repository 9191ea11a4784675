import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { connect } from '../src/client.js';
import type { EvdbError } from '../src/core/errors.js';
import type { EvdbServer } from '../src/server.js';
import { READER, WRITER, startTokenServer } from './support/token-server.js';

// POST /calls: several calls in one HTTP request, each answered on its own; and the client's
// HTTP transport, which sends calls made at once that way.

interface AnswerFrame {
  type: 'result' | 'error';
  id: number;
  result?: unknown;
  problem?: { code: string; status: number; detail: string };
}

describe('POST /calls', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startTokenServer();
  });
  after(async () => {
    await server.close();
  });

  const post = async (
    body: unknown,
    token: string | null = WRITER,
    method = 'POST',
  ): Promise<{ status: number; json: { result?: AnswerFrame[]; code?: string } }> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${server.url}/calls`, {
      method,
      headers,
      body:
        method === 'POST' ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
    });
    return { status: response.status, json: (await response.json()) as never };
  };
  const call = (id: number, op: string, params: unknown) => ({ type: 'call', id, op, params });
  const append = (id: number, streamId: string, expectedVersion: number) =>
    call(id, 'appendEvents', {
      storeId: 'shop',
      streamId,
      events: [{ eventType: 'E', data: { id } }],
      expectedVersion,
    });

  it('answers each call on its own, in the order asked', async () => {
    const { status, json } = await post([
      append(7, 'a', -1),
      append(3, 'a', -1),
      call(5, 'getVersion', { storeId: 'shop', streamId: 'nope' }),
      call(9, 'nope', {}),
      call(1, 'getVersion', 'not an object'),
    ]);
    assert.equal(status, 200);
    const answers = json.result ?? [];
    assert.deepEqual(
      answers.map((a) => a.id),
      [7, 3, 5, 9, 1],
    );
    // The two appends shared a group commit: the first expected-version check won.
    assert.equal(answers[0]?.type, 'result');
    assert.deepEqual(answers[0]?.result, { version: 0, position: 0 });
    assert.equal(answers[1]?.problem?.code, 'wrong_expected_version');
    assert.equal(answers[1]?.problem?.status, 409);
    assert.deepEqual(answers[2], { type: 'result', id: 5, result: -1 });
    assert.equal(answers[3]?.problem?.code, 'not_found');
    assert.equal(answers[4]?.problem?.code, 'invalid_argument');
  });

  it('checks the role of each call: a reader reads, and its appends write nothing', async () => {
    const { status, json } = await post(
      [
        call(0, 'streamForward', { storeId: 'shop', streamId: 'a', startVersion: 0, count: 10 }),
        append(1, 'b', -1),
      ],
      READER,
    );
    assert.equal(status, 200);
    const [read, write] = json.result ?? [];
    assert.equal((read?.result as unknown[]).length, 1);
    assert.equal(write?.problem?.code, 'unauthorized');
    assert.equal(write?.problem?.status, 403);
    const check = await post([call(0, 'streamExists', { storeId: 'shop', streamId: 'b' })]);
    assert.deepEqual(check.json.result?.[0]?.result, false);
  });

  it('refuses, as a whole, a request it cannot read', async () => {
    const refusals: [unknown, string | null, string, number, string][] = [
      [[], WRITER, 'POST', 400, 'invalid_argument'],
      [{ calls: [] }, WRITER, 'POST', 400, 'invalid_argument'],
      [
        Array.from({ length: 65 }, (_, i) => append(i, 'c', -2)),
        WRITER,
        'POST',
        400,
        'invalid_argument',
      ],
      [[append(1, 'c', -2), append(1, 'c', -2)], WRITER, 'POST', 400, 'invalid_argument'],
      [[{ id: 1, op: 'getVersion', params: {} }], WRITER, 'POST', 400, 'invalid_argument'],
      ['{"not json', WRITER, 'POST', 400, 'invalid_argument'],
      [[append(1, 'c', -2)], null, 'POST', 401, 'unauthorized'],
      [[append(1, 'c', -2)], 'wrong-token-0123456789', 'POST', 401, 'unauthorized'],
      [undefined, WRITER, 'GET', 405, 'invalid_argument'],
      [
        Array.from({ length: 2 }, (_, i) =>
          call(i, 'appendEvents', {
            storeId: 'shop',
            streamId: 'c',
            events: [{ eventType: 'E', data: { big: 'x'.repeat(40 * 1024) } }],
          }),
        ),
        WRITER,
        'POST',
        413,
        'invalid_argument',
      ],
    ];
    for (const [body, token, method, status, code] of refusals) {
      const answer = await post(body, token, method);
      assert.equal(answer.status, status, JSON.stringify(body)?.slice(0, 80));
      assert.equal(answer.json.code, code);
    }
    const check = await post([call(0, 'streamExists', { storeId: 'shop', streamId: 'c' })]);
    assert.deepEqual(check.json.result?.[0]?.result, false, 'nothing was written');
  });

  it('the HTTP client sends calls made at once together, and a lone call alone', async () => {
    const paths: string[] = [];
    const onRequest = (message: unknown): void => {
      paths.push((message as { request: { url: string } }).request.url);
    };
    subscribe('http.server.request.start', onRequest);
    const client = await connect(server.url, { token: WRITER });
    try {
      paths.length = 0;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          client.appendEvents('shop', `many-${i}`, [{ eventType: 'E', data: { i } }], -1),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.version),
        Array.from({ length: 40 }, () => 0),
      );
      assert.equal(new Set(results.map((r) => r.position)).size, 40);
      assert.deepEqual(paths, ['/calls', '/calls', '/calls'], '16 + 16 + 8 calls');
      // Errors stay per call, with their codes.
      paths.length = 0;
      const [again, fresh] = await Promise.allSettled([
        client.appendEvents('shop', 'many-0', [{ eventType: 'E', data: {} }], -1),
        client.appendEvents('shop', 'many-new', [{ eventType: 'E', data: {} }], -1),
      ]);
      assert.equal(again.status, 'rejected');
      assert.equal((again.reason as EvdbError).code, 'wrong_expected_version');
      assert.equal(fresh.status, 'fulfilled');
      assert.deepEqual(paths, ['/calls']);
      paths.length = 0;
      assert.equal(await client.getVersion('shop', 'many-1'), 0);
      assert.deepEqual(paths, ['/rpc/getVersion']);
      // Together over this server's body limit (64 KiB), each under it: sent again one by one.
      paths.length = 0;
      const big = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          client.appendEvents('shop', `big-${i}`, [
            { eventType: 'E', data: { text: 'x'.repeat(30 * 1024) } },
          ]),
        ),
      );
      assert.deepEqual(
        big.map((r) => r.version),
        [0, 0, 0, 0],
      );
      assert.deepEqual(paths, ['/calls', ...Array<string>(4).fill('/rpc/appendEvents')]);
    } finally {
      unsubscribe('http.server.request.start', onRequest);
      await client.close();
    }
  });
});
