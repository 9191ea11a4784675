import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { memory, openEvdb, type Evdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

describe('cluster checks', () => {
  it('a single embedded node answers truthfully about itself', async () => {
    const evdb = await openEvdb({ backend: memory() });
    await evdb.createStore('a');
    await evdb.appendEvents('a', 's', [{ eventType: 'E', data: {} }]);
    for (const result of [
      await evdb.verifyClusterConsistency(),
      await evdb.verifyMembershipConsensus(),
      await evdb.checkLogConsistency('a'),
    ]) {
      assert.equal(result.consistent, true);
      assert.equal(result.checkedBy, evdb.node.nodeId);
      assert.equal(result.nodes.length, 1);
      const [self] = result.nodes;
      assert.equal(self?.nodeId, evdb.node.nodeId);
      assert.deepEqual(self?.view?.heads, { a: 0 });
      assert.equal(self?.view?.backend, 'memory');
    }
    await evdb.close();
  });

  describe('nodes sharing PostgreSQL', () => {
    let pg: TestPostgres;
    let nodes: Evdb[];
    before(async () => {
      pg = await startPostgres();
      const schema = `ck${randomBytes(4).toString('hex')}`;
      nodes = await Promise.all(
        [0, 1, 2].map(() => openEvdb({ backend: postgres({ url: pg.url, schema }) })),
      );
      await nodes[0]?.createStore('shop');
      await nodes[0]?.appendEvents('shop', 'o-1', [{ eventType: 'E', data: {} }]);
      for (const [i, node] of nodes.entries()) await node.advertise(`http://node-${i}.test`);
    });
    after(async () => {
      await Promise.all(nodes.map((node) => node.close()));
      await pg.stop();
    });

    it('agree: every node answers with the same members, backend and heads', async () => {
      const result = await (nodes[1] as Evdb).verifyClusterConsistency();
      assert.equal(result.consistent, true, JSON.stringify(result.nodes, null, 2));
      assert.deepEqual(
        result.nodes.map((node) => node.nodeId),
        nodes.map((node) => node.node.nodeId).sort(),
      );
      for (const node of result.nodes) {
        assert.deepEqual(node.view?.heads, { shop: 0 });
        assert.equal(node.view?.backend, 'postgres');
        assert.equal(node.view?.members.length, 3);
      }
      const log = await (nodes[2] as Evdb).checkLogConsistency('shop');
      assert.equal(log.consistent, true);
    });

    it('report a listed node that does not answer, by name', async () => {
      await (nodes[0] as Evdb).registerWorker('shop', {
        nodeId: 'ghost',
        host: 'nowhere',
        ttlMs: 60_000,
      });
      const result = await (nodes[0] as Evdb).verifyMembershipConsensus();
      assert.equal(result.consistent, false);
      const ghost = result.nodes.find((node) => node.nodeId === 'ghost');
      assert.equal(ghost?.reachable, false);
      assert.deepEqual(ghost?.differences, ['did not answer']);
      assert.ok(result.nodes.filter((node) => node.reachable).every((node) => node.agrees));
      await (nodes[0] as Evdb).unregisterWorker('shop', 'ghost');
      assert.equal((await (nodes[0] as Evdb).verifyMembershipConsensus()).consistent, true);
    });
  });
});
