import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect } from '../src/client.js';
import { openEvdb } from '../src/index.js';
import { resolveServeConfig } from '../src/cli/serve.js';
import {
  ROOT,
  buildPackage,
  cleanEnv,
  evdb,
  startCli,
  type CliProcess,
} from './support/cli-process.js';

const root = mkdtempSync(join(tmpdir(), 'evdb-cli-'));
const serverDir = join(root, 'server');
const localDir = join(root, 'local');
let server: CliProcess;
let url: string;

before(async () => {
  await buildPackage();
  server = startCli(['serve', '--port', '0', '--data-dir', serverDir]);
  url = (await server.waitFor(/^evdb listening on /)).slice('evdb listening on '.length);
});
after(async () => {
  await server?.signal('SIGTERM');
  rmSync(root, { recursive: true, force: true });
});

describe('evdb against a server (--url)', () => {
  it('creates a store, appends, reads, lists streams and stats', async () => {
    const on = ['--url', url];
    assert.equal((await evdb(['stores', 'create', 'shop', ...on])).code, 0);
    const appended = await evdb([
      'append',
      'shop',
      'order-1',
      '--type',
      'OrderPlaced',
      '--data',
      '{"total":5}',
      '--expected-version',
      'no-stream',
      '--json',
      ...on,
    ]);
    assert.equal(appended.code, 0, appended.stderr);
    assert.deepEqual(JSON.parse(appended.stdout), { version: 0, position: 0 });
    const fromFile = await evdb(['append', 'shop', 'order-2', '--file', '-', ...on], {
      input:
        '{"eventType":"OrderPlaced","data":{"total":7}}\n{"eventType":"OrderPaid","data":{"amount":7},"tags":["paid"]}\n',
    });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /appended 2 event\(s\): version 1, position 2/);

    const all = await evdb(['read', 'shop', '$all', ...on]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.stdout.trim().split('\n'), [
      '#0 order-1@0 OrderPlaced {"total":5}',
      '#1 order-2@0 OrderPlaced {"total":7}',
      '#2 order-2@1 OrderPaid {"amount":7}',
    ]);
    const json = await evdb(['read', 'shop', 'order-2', '--from', '1', '--json', ...on]);
    const events = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { eventType: string; tags: string[] });
    assert.deepEqual(
      events.map((e) => [e.eventType, e.tags]),
      [['OrderPaid', ['paid']]],
    );
    const backward = await evdb(['read', 'shop', 'order-2', '--backward', '--count', '1', ...on]);
    assert.match(backward.stdout, /^#2 order-2@1 OrderPaid/);

    const streams = await evdb(['streams', 'shop', ...on]);
    assert.deepEqual(streams.stdout.trim().split('\n'), ['order-1', 'order-2']);
    const stats = await evdb(['stats', 'shop', '--json', ...on]);
    const { diskBytes, ...counts } = JSON.parse(stats.stdout) as { diskBytes: number };
    assert.ok(diskBytes > 0);
    assert.deepEqual(counts, {
      storeId: 'shop',
      backend: 'sqlite',
      streamCount: 2,
      totalEvents: 3,
      lastPosition: 2,
      snapshotCount: 0,
      subscriptionCount: 0,
      hasEvents: true,
    });
    const stores = await evdb(['stores', ...on]);
    assert.equal(stores.stdout, 'shop\n');
    const workers = await evdb(['workers', 'shop', '--json', ...on]);
    assert.equal((JSON.parse(workers.stdout) as { url: string }[])[0]?.url, url);
  });

  it('streams pages through every stream, or prints one page with the cursor of the next', async () => {
    const on = ['--url', url];
    const client = await connect(url);
    await client.createStore('many');
    const ids = Array.from({ length: 2_345 }, (_, i) => `s-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < ids.length; i += 1000) {
      const writes = ids.slice(i, i + 1000).map((streamId) => ({
        streamId,
        events: [{ eventType: 'T', data: null }],
      }));
      await client.appendBatch('many', writes);
    }
    await client.close();

    const all = await evdb(['streams', 'many', ...on]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.stdout.trim().split('\n'), ids, 'every id, across 1 000-id pages');
    const json = await evdb(['streams', 'many', '--pattern', 's-*7', '--json', ...on]);
    assert.deepEqual(
      JSON.parse(json.stdout),
      ids.filter((id) => id.endsWith('7')),
    );

    const first = await evdb(['streams', 'many', '--prefix', 's-01', '--limit', '60', ...on]);
    assert.deepEqual(first.stdout.trim().split('\n'), ids.slice(100, 160));
    const cursor = /--after (\S+)/.exec(first.stderr)?.[1];
    assert.ok(cursor !== undefined, first.stderr);
    const rest = await evdb([
      'streams',
      'many',
      '--prefix',
      's-01',
      '--limit',
      '60',
      '--after',
      cursor,
      '--json',
      ...on,
    ]);
    assert.deepEqual(JSON.parse(rest.stdout), { streams: ids.slice(160, 200), next: null });
    const bad = await evdb(['streams', 'many', '--limit', '0', ...on]);
    assert.equal(bad.code, 2);
  });

  it('archives lists the archived ranges, every page or one page with the cursor of the next', async () => {
    const on = ['--url', url];
    const client = await connect(url);
    await client.createStore('archived');
    const streams = ['c', 'a', 'b/1', 'b'];
    for (const streamId of streams) {
      await client.appendEvents('archived', streamId, [
        { eventType: 'T', data: 1 },
        { eventType: 'T', data: 2 },
        { eventType: 'T', data: 3 },
      ]);
    }
    const archive = { beforeVersion: 2, requireSnapshot: false, archive: true } as const;
    await client.scavengeMatching('archived', '*', archive);
    await client.close();
    const keys = ['a', 'b', 'b/1', 'c'].map((streamId) => `archived/${streamId}/0-1`);

    const all = await evdb(['archives', 'archived', ...on]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.stdout.trim().split('\n'), keys);
    const one = await evdb(['archives', 'archived', '--stream', 'b', '--json', ...on]);
    assert.deepEqual(JSON.parse(one.stdout), ['archived/b/0-1']);

    const first = await evdb(['archives', 'archived', '--limit', '3', ...on]);
    assert.deepEqual(first.stdout.trim().split('\n'), keys.slice(0, 3));
    const cursor = /--after (\S+)/.exec(first.stderr)?.[1];
    assert.ok(cursor !== undefined, first.stderr);
    const rest = await evdb([
      'archives',
      'archived',
      '--limit',
      '3',
      '--after',
      cursor,
      '--json',
      ...on,
    ]);
    assert.deepEqual(JSON.parse(rest.stdout), { archives: keys.slice(3), next: null });
  });

  it('tail prints an event appended after it started, until stopped by its pid', async () => {
    const tail = startCli(['tail', 'shop', '$all', '--json', '--url', url]);
    await tail.waitFor(/^evdb: following shop\/\$all from position 3$/, 'stderr');
    const appended = await evdb([
      'append',
      'shop',
      'order-3',
      '--type',
      'OrderPlaced',
      '--data',
      '3',
      '--url',
      url,
    ]);
    assert.equal(appended.code, 0, appended.stderr);
    const line = await tail.waitFor(/order-3/);
    assert.equal((JSON.parse(line) as { position: number }).position, 3);
    const streamTail = startCli(['tail', 'shop', 'order-9', '--url', url]);
    await streamTail.waitFor(/following shop\/order-9 from version 0/, 'stderr');
    await evdb(['append', 'shop', 'order-9', '--type', 'Late', '--url', url]);
    assert.match(await streamTail.waitFor(/Late/), /^#4 order-9@0 Late null$/);
    // The $all tail polls on its own schedule: wait for it to show the event before stopping it.
    await tail.waitFor(/order-9/);
    assert.equal(await tail.signal('SIGTERM'), 0);
    assert.equal(await streamTail.signal('SIGINT'), 0);
    assert.equal(tail.lines.length, 2); // order-3, then order-9
  });

  it('exit codes: 2 for usage, 1 with the code for store errors, 3 when unreachable', async () => {
    const usage = await evdb(['read', 'shop', '--url', url]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /expected <store> <stream>/);
    assert.equal((await evdb(['frobnicate'])).code, 2);
    assert.equal((await evdb(['read', 'shop', 'x', '--nope'])).code, 2);
    assert.equal(
      (await evdb(['append', 'shop', 'x', '--type', 'T', '--data', '{bad', '--url', url])).code,
      2,
    );

    const conflict = await evdb([
      'append',
      'shop',
      'order-1',
      '--type',
      'T',
      '--expected-version',
      'no-stream',
      '--url',
      url,
    ]);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /^evdb: wrong_expected_version: /);
    const missing = await evdb(['read', 'nope', 'x', '--url', url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^evdb: not_found: /);

    const unreachable = await evdb(['stores', '--url', 'http://127.0.0.1:9', '--timeout', '2000']);
    assert.equal(unreachable.code, 3);
    assert.match(unreachable.stderr, /^evdb: unavailable: /);
  });

  it('--help on every command', async () => {
    for (const command of [
      'serve',
      'append',
      'read',
      'tail',
      'streams',
      'stats',
      'stores',
      'workers',
      'health',
      'subscriptions',
    ]) {
      const help = await evdb([command, '--help']);
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, new RegExp(`^evdb ${command}`), command);
    }
    const top = await evdb(['--help']);
    assert.match(top.stdout, /Exit codes: 0 ok, 1 .*\n2 usage error, 3 /s);
  });

  it('npx evdb runs the package bin', async () => {
    const { stdout } = await promisify(execFile)('npx', ['--no-install', 'evdb', '--help'], {
      cwd: ROOT,
      env: cleanEnv(),
    });
    assert.match(stdout, /^evdb — an event store/);
  });
});

describe('evdb subscriptions', () => {
  it('lists the persistent subscriptions with checkpoint and lag, through a server and on a data directory', async () => {
    const client = await connect(url);
    await client.createStore('subs');
    await client.appendEvents('subs', 'order-1', [
      { eventType: 'OrderPlaced', data: 1 },
      { eventType: 'OrderPaid', data: 1 },
    ]);
    await client.saveSubscription('subs', {
      name: 'billing',
      type: 'by_event_type',
      selector: 'OrderPaid',
      startFrom: 0,
    });
    await client.close();
    const listed = await evdb(['subscriptions', 'subs', '--url', url]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, 'billing  by_event_type "OrderPaid"  checkpoint -1  lag 1\n');
    const json = await evdb(['subscriptions', 'subs', '--json', '--url', url]);
    const [sub] = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { lag: { lagEvents: number } });
    assert.equal(sub?.lag.lagEvents, 1);

    const dir = join(root, 'subs-local');
    const embedded = await openEvdb({ dataDir: dir });
    await embedded.createStore('local');
    await embedded.saveSubscription('local', { name: 'all', type: 'by_stream', selector: '$all' });
    await embedded.close();
    const local = await evdb(['subscriptions', 'local', '--data-dir', dir]);
    assert.equal(local.stdout, 'all  by_stream "$all"  checkpoint -1  lag 0\n');
  });

  it('prints one page with --limit and goes on with --after', async () => {
    const dir = join(root, 'subs-paged');
    const embedded = await openEvdb({ dataDir: dir });
    await embedded.createStore('paged');
    for (const name of ['c', 'a', 'b']) {
      await embedded.saveSubscription('paged', { name, type: 'by_stream', selector: '$all' });
    }
    await embedded.close();
    const on = ['--data-dir', dir];
    const first = await evdb(['subscriptions', 'paged', '--limit', '2', ...on]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      first.stdout.split('\n').map((line) => line.split(' ')[0]),
      ['a', 'b', ''],
    );
    const cursor = /--after (\S+)/.exec(first.stderr)?.[1];
    assert.ok(cursor !== undefined, first.stderr);
    const rest = await evdb(['subscriptions', 'paged', '--limit', '2', '--after', cursor, ...on]);
    assert.equal(rest.stdout, 'c  by_stream "$all"  checkpoint -1  lag 0\n');
    assert.equal(rest.stderr, '');
  });
});

describe('evdb on a data directory (--data-dir)', () => {
  it('appends and reads without a server', async () => {
    const on = ['--data-dir', localDir];
    assert.equal((await evdb(['stores', 'create', 'local', ...on])).code, 0);
    const appended = await evdb([
      'append',
      'local',
      'a',
      '--type',
      'T',
      '--data',
      '{"n":1}',
      '--tags',
      'x,y',
      ...on,
    ]);
    assert.equal(appended.code, 0, appended.stderr);
    const read = await evdb(['read', 'local', 'a', '--json', ...on]);
    assert.deepEqual((JSON.parse(read.stdout) as { tags: string[] }).tags, ['x', 'y']);
    const env = await evdb(['stats', 'local'], { env: { EVDB_DATA_DIR: localDir } });
    assert.match(env.stdout, /events +1/);
    // The data really is in the directory.
    const embedded = await openEvdb({ dataDir: localDir });
    assert.equal(await embedded.getVersion('local', 'a'), 0);
    await embedded.close();
  });
});

describe('evdb serve', () => {
  it('settings: flags over environment over the config file over defaults', () => {
    const file = join(root, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({ port: 1111, host: '127.0.0.2', dataDir: '/from/file', logLevel: 'warn' }),
    );
    const config = resolveServeConfig(['--config', file, '--port', '3333'], {
      EVDB_PORT: '2222',
      EVDB_HOST: '127.0.0.3',
    });
    assert.ok(config !== 'help');
    assert.equal(config.port, 3333);
    assert.equal(config.host, '127.0.0.3');
    assert.equal(config.dataDir, '/from/file');
    assert.equal(config.logLevel, 'warn');
    const bounded = resolveServeConfig([], { EVDB_MAX_OPEN_STORES: '64' });
    assert.ok(bounded !== 'help');
    assert.equal(bounded.maxOpenStores, 64);
    assert.throws(() => resolveServeConfig(['--max-open-stores', '0'], {}), /positive integer/);
    const tokens = resolveServeConfig(['--token', 'a', '--token', 'b'], { EVDB_TOKEN: 'env' });
    assert.ok(tokens !== 'help');
    assert.deepEqual(
      tokens.tokens?.map((t) => t.token),
      ['a', 'b'],
    );
    assert.throws(
      () => resolveServeConfig(['--tls-cert', 'x'], {}),
      /both --tls-cert and --tls-key/,
    );
  });

  it('refuses to listen beyond loopback without a token (exit 1)', async () => {
    const refused = await evdb([
      'serve',
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--data-dir',
      join(root, 'refused'),
    ]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /invalid_argument: refusing to listen on 0\.0\.0\.0 without tokens/,
    );
  });

  it('SIGTERM finishes the writes in flight, then exits 0', async () => {
    const dir = join(root, 'graceful');
    const node = startCli(['serve', '--port', '0', '--data-dir', dir, '--log-level', 'silent'], {});
    const nodeUrl = (await node.waitFor(/^evdb listening on /)).slice('evdb listening on '.length);
    const client = await connect(nodeUrl, { retry: { retries: 0 } });
    await client.createStore('g');
    const acknowledged: number[] = [];
    let refused = 0;
    const writer = async (w: number): Promise<void> => {
      for (let n = 0; ; n++) {
        try {
          await client.appendEvents('g', `w-${w}`, [{ eventType: 'E', data: n }], n - 1);
          acknowledged.push(w);
        } catch (error) {
          // After SIGTERM: refused before running (shutting down) or the connection is gone.
          assert.equal((error as { code?: string }).code, 'unavailable');
          refused++;
          return;
        }
      }
    };
    const writers = Array.from({ length: 4 }, (_, w) => writer(w));
    while (acknowledged.length < 40) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await node.signal('SIGTERM'), 0);
    await Promise.all(writers);
    await client.close();
    assert.equal(refused, 4);
    const embedded = await openEvdb({ dataDir: dir });
    let stored = 0;
    for (let w = 0; w < 4; w++) stored += (await embedded.getVersion('g', `w-${w}`)) + 1;
    await embedded.close();
    // Every acknowledged append is stored; none was lost by the shutdown.
    assert.ok(
      stored >= acknowledged.length,
      `${stored} stored, ${acknowledged.length} acknowledged`,
    );
    assert.ok(stored <= acknowledged.length + 4);
  });
});

describe('README', () => {
  it('every command of the CLI section works as shown', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## CLI'));
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const commands = block
      .split('\n')
      .filter((line) => line.startsWith('npx evdb '))
      .map((line) => shellWords(line).slice(2));
    assert.ok(commands.length >= 6);
    const dataDir = join(root, 'readme-data');
    const args = (words: string[]): string[] => words.map((w) => (w === './data' ? dataDir : w));
    const [serveWords, ...rest] = commands;
    assert.equal(serveWords?.[0], 'serve');
    // Port 2113 may be taken on this machine: the same command on a free port.
    const node = startCli([...args(serveWords ?? []), '--port', '0']);
    const nodeUrl = (await node.waitFor(/^evdb listening on /)).slice('evdb listening on '.length);
    try {
      const outputs: string[] = [];
      for (const words of rest) {
        if (words[0] === 'tail') {
          const tail = startCli(args(words), { EVDB_URL: nodeUrl });
          await tail.waitFor(/^evdb: following /, 'stderr');
          assert.equal(await tail.signal('SIGINT'), 0);
          continue;
        }
        const result = await evdb(args(words), { env: { EVDB_URL: nodeUrl } });
        assert.equal(result.code, 0, `${words.join(' ')}: ${result.stderr}`);
        outputs.push(result.stdout);
      }
      assert.match(outputs.join(''), /#0 order-1@0 OrderPlaced \{"total":5\}/);
      assert.match(outputs.join(''), /"eventType":"OrderPlaced"/);
      assert.match(outputs.join(''), /events +1/);
    } finally {
      assert.equal(await node.signal('SIGINT'), 0);
    }
  });
});

/** Splits a command line as sh would, for the plain words and single quotes the README uses. */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? (m[2] as string));
}
