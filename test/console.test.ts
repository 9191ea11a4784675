// The console end to end: `evdb serve` (run from source) serving the built console, seeded data,
// and a real headless Chromium. Screenshots of every page go to test-artifacts/console/.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { buildConsole } from '../scripts/build-console.js';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import { CHROMIUM, haveChromium, launchChromium, type Browser } from './support/chromium.js';
import { SEED, seedConsoleData, type Seeded } from './support/console-seed.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHOTS = join(ROOT, 'test-artifacts', 'console');
const ADMIN = 'console-admin-token-0123456789';
const READER = 'console-reader-token-0123456789';

interface Serve {
  url: string;
  child: ChildProcess;
}

/** `evdb serve` from source, with an admin and a read token; resolves once it listens. */
async function startServe(dir: string): Promise<Serve> {
  const config = join(dir, 'serve.json');
  await writeFile(
    config,
    JSON.stringify({
      port: 0,
      dataDir: join(dir, 'data'),
      logLevel: 'silent',
      tokens: [
        { token: ADMIN, role: 'admin', stores: '*' },
        { token: READER, role: 'read', stores: '*' },
      ],
    }),
  );
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--config', config],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`evdb serve exited with ${String(code)} before listening`);
    }),
  ])) as [string];
  const match = /evdb listening on (\S+)/.exec(line);
  assert.ok(match, `unexpected first line of evdb serve: ${line}`);
  return { url: match[1] as string, child };
}

describe(
  'the console in a headless Chromium',
  { skip: !haveChromium() && `no ${CHROMIUM}` },
  () => {
    let dir: string;
    let serve: Serve;
    let admin: EvdbClient;
    let seeded: Seeded;
    let browser: Browser;
    /** Console errors and page errors (CSP violations among them) of every page opened. */
    const pageErrors: string[] = [];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'evdb-console-'));
      await mkdir(SHOTS, { recursive: true });
      await buildConsole();
      serve = await startServe(dir);
      admin = await connect(serve.url, { token: ADMIN });
      seeded = await seedConsoleData(admin);
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await admin?.close();
      if (serve !== undefined && serve.child.exitCode === null) {
        serve.child.kill('SIGTERM');
        await once(serve.child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    });

    /** A new tab (its own sessionStorage: signed out), signed in with `token`. */
    async function signedIn(token: string): Promise<Page> {
      const page = await browser.context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') pageErrors.push(`${page.url()}: ${message.text()}`);
      });
      page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
      page.setDefaultTimeout(10_000);
      await page.goto(`${serve.url}/ui`);
      await page.getByLabel('Token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('navigation', { name: 'Pages' }).waitFor();
      return page;
    }

    /** Waits until the page's chart has drawn `count` samples (they come once a second or two). */
    const chartSamples = async (page: Page, count: number): Promise<void> => {
      const samples = page.locator('.chart-canvas').first();
      const deadline = Date.now() + 30_000;
      while (Number(await samples.getAttribute('data-samples')) < count) {
        assert.ok(Date.now() < deadline, `the chart has not drawn ${count} samples`);
        await page.waitForTimeout(200);
      }
    };

    const shot = (page: Page, name: string): Promise<Buffer> =>
      page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

    let page: Page;

    it('signs in and shows the stores, their counts and the node on the overview', async () => {
      page = await signedIn(ADMIN);
      const shop = page.locator('tr[data-store="shop"]');
      await shop.waitFor();
      const cells = await shop.locator('td').allInnerTexts();
      assert.equal(cells[1], String(seeded.totalEvents), `events of shop: ${cells.join(' | ')}`);
      await page.locator('tr[data-store="inventory"]').waitFor();
      await page.locator('dl.facts dt', { hasText: 'This node' }).waitFor();
      await page.locator('.badge.healthy').first().waitFor();
      await page
        .locator('.badge.memory-normal, .badge.memory-elevated, .badge.memory-critical')
        .first()
        .waitFor();
      assert.equal(await page.locator('[data-role]').innerText(), 'read and write');
      await page.locator('.chart canvas').first().waitFor();
      // Writes while the chart samples, so that it has a rate to draw.
      for (let i = 0; i < 4; i++) {
        await admin.appendEvents(
          SEED.otherStore,
          'sku-2',
          Array.from({ length: 5 * (i + 1) }, () => ({ eventType: 'StockAdjusted', data: {} })),
        );
        await page.waitForTimeout(400);
      }
      await chartSamples(page, 5);
      await shot(page, 'overview');
    });

    it('finds streams by prefix and pattern, and shows a stream with its events', async () => {
      await page.getByLabel('Store', { exact: true }).selectOption('shop');
      await page.getByRole('link', { name: 'Streams', exact: true }).click();
      await page.getByRole('heading', { name: 'Streams' }).waitFor();
      assert.match(page.url(), /#\/streams\/shop$/);
      await page.getByLabel(/Stream id prefix or pattern/).fill('order-1');
      await page.getByRole('button', { name: 'Search' }).click();
      // order-1, order-10, order-11, order-12
      await page.getByText('4 streams starting with order-1 on page 1').waitFor();
      await page.getByLabel(/Stream id prefix or pattern/).fill('*ment-*');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('link', { name: 'payment-1' }).waitFor();
      await page.getByRole('link', { name: 'shipment-1' }).waitFor();
      await shot(page, 'streams');

      await page.getByLabel(/Stream id prefix or pattern/).fill('order-1');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('link', { name: 'order-1', exact: true }).click();
      await page.getByRole('heading', { name: 'Stream order-1' }).waitFor();
      await page.locator('tr.event-row').nth(1).waitFor();
      const types = await page.locator('tr.event-row td:nth-child(4)').allInnerTexts();
      assert.deepEqual(types, ['OrderPlaced', 'OrderShipped']);
      await page.locator('tr.event-row').first().getByRole('button').click();
      const detail = page.locator('tr.event-detail');
      await detail.getByText('"total": 10').waitFor();
      await detail.getByText('"source": "console-test"').waitFor();
      await detail.getByRole('link', { name: 'region:eu' }).waitFor();
      await page.locator('form.append-form').waitFor();
      await shot(page, 'stream');
    });

    it('pages through a search of many streams, 50 a page, forward and back', async () => {
      const ids = Array.from({ length: 120 }, (_, i) => `page-${String(i).padStart(3, '0')}`);
      await admin.appendBatch(
        SEED.otherStore,
        ids.map((streamId) => ({ streamId, events: [{ eventType: 'Paged', data: {} }] })),
      );
      await page.goto(`${serve.url}/ui#/streams/${SEED.otherStore}?q=page-`);
      const listed = async (): Promise<string[]> =>
        page.locator('ul.stream-list a').allInnerTexts();
      await page.getByText('50 streams starting with page- on page 1').waitFor();
      assert.deepEqual(await listed(), ids.slice(0, 50));
      const pager = page.getByRole('navigation', { name: 'Stream pages' });
      await pager.getByRole('link', { name: 'Next →' }).click();
      await page.getByText('on page 2').waitFor();
      assert.deepEqual(await listed(), ids.slice(50, 100));
      await pager.getByRole('link', { name: 'Next →' }).click();
      await page.getByText('20 streams starting with page- on page 3').waitFor();
      assert.deepEqual(await listed(), ids.slice(100));
      assert.equal(await pager.getByRole('link', { name: 'Next →' }).count(), 0, 'the last page');
      await pager.getByRole('link', { name: '← Previous' }).click();
      await page.getByText('on page 2').waitFor();
      assert.deepEqual(await listed(), ids.slice(50, 100));
      await page.getByLabel(/Stream id prefix or pattern/).fill('page-*7');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByText('12 streams matching page-*7 on page 1').waitFor();
      assert.deepEqual(
        await listed(),
        ids.filter((id) => id.endsWith('7')),
      );
    });

    it('shows bytes as hex and base64, and follows causation and correlation links', async () => {
      await page.goto(`${serve.url}/ui#/stream/shop/blob-1`);
      await page.locator('tr.event-row[data-event-type="BlobStored"] button').click();
      await page.getByText('00000000  de ad be ef 00 01 02 03').waitFor();
      await page.getByText('3q2+7wABAgM=').waitFor();

      await page.goto(`${serve.url}/ui#/stream/shop/payment-1`);
      await page.locator('tr.event-row[data-event-type="PaymentRequested"] button').click();
      await page.getByRole('link', { name: seeded.chainIds[0] }).click();
      await page.getByRole('heading', { name: 'Event CartCheckedOut' }).waitFor();
      await shot(page, 'event');
      await page.getByRole('link', { name: SEED.correlationId }).click();
      await page.getByRole('heading', { name: 'Causation' }).waitFor();
      await page.locator('tr[data-node="ShipmentScheduled"]').waitFor();
    });

    it('queries $all by position range, event type and tags', async () => {
      await page.goto(`${serve.url}/ui#/all/shop?kind=positions&from=0&to=4`);
      await page.getByText('5 events').waitFor();
      // The link's copy of OrderShipped is an event of the log too.
      await page.goto(`${serve.url}/ui#/all/shop?kind=types&types=OrderShipped,BlobStored`);
      await page.getByText('3 events').waitFor();
      await page.locator('tr.event-row', { hasText: '$link:shipped-orders' }).waitFor();
      await page.goto(`${serve.url}/ui#/all/shop?kind=tags&tags=region:eu,channel:web&match=all`);
      await page.getByText('6 events').waitFor(); // orders 1, 3, 5, 7, 9, 11
      assert.equal(await page.getByLabel('Query').inputValue(), 'tags');
      assert.equal(await page.getByLabel('Match').inputValue(), 'all');
      await shot(page, 'queries');
    });

    it('tails $all live: an event appended now shows up', async (t) => {
      await page.getByRole('link', { name: 'Live tail' }).click();
      await page.locator('[data-live-state="live"]').waitFor();
      const appending = Date.now();
      await admin.appendEvents('shop', 'order-99', [
        { eventType: 'OrderPlaced', data: { orderId: 'order-99', total: 990 } },
      ]);
      await page.locator('tr.event-row', { hasText: 'order-99' }).waitFor({ timeout: 10_000 });
      // Reported, not asserted: timings belong to benchmarks.
      t.diagnostic(`the tail showed the event ${Date.now() - appending} ms after the append began`);
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.locator('[data-live-state="paused"]').waitFor();
      // Appended while paused: it shows once resumed, since the tail resumes after the last event.
      await admin.appendEvents('shop', 'order-98', [
        { eventType: 'OrderPlaced', data: { orderId: 'order-98', total: 980 } },
      ]);
      await page.getByRole('button', { name: 'Resume' }).click();
      await page.locator('tr.event-row', { hasText: 'order-98' }).waitFor({ timeout: 10_000 });
      await shot(page, 'tail');
    });

    it('watches a channel live, publishes on it, and holds messages while paused', async (t) => {
      await page.getByRole('link', { name: 'Channels' }).click();
      await page.getByRole('heading', { name: 'Channels' }).waitFor();
      await page.getByLabel('Channel').selectOption('events');
      // A topic the client refuses (an empty segment) is said, not swallowed.
      await page.getByLabel(/Topic pattern/).fill('orders..eu');
      await page.getByRole('button', { name: 'Watch' }).click();
      await page.locator('[data-live-state="failed"]').waitFor();
      await page
        .getByRole('alert')
        .getByText(/invalid_argument: invalid topic/)
        .waitFor();

      await page.getByLabel(/Topic pattern/).fill('orders.*');
      await page.getByRole('button', { name: 'Watch' }).click();
      assert.match(page.url(), /#\/channels\?channel=events&topic=orders\.\*$/);
      await page.locator('[data-live-state="live"]').waitFor();
      const publishing = Date.now();
      await admin.channels.publish('events', 'orders.eu', { orderId: 'order-77', total: 770 });
      const row = page.locator('tr.channel-message[data-topic="orders.eu"]');
      await row.waitFor({ timeout: 10_000 });
      // Reported, not asserted: timings belong to benchmarks.
      t.diagnostic(`the page showed the message ${Date.now() - publishing} ms after the publish`);
      await row.getByText('"orderId":"order-77"').waitFor();
      // Not matched by the pattern: never shown.
      await admin.channels.publish('events', 'orders.eu.late', { ignored: true });

      // Published from the page itself, with the admin token.
      await page.getByLabel('Topic (no wildcards)').fill('orders.us');
      await page.getByLabel('Message (JSON)').fill('{"from": "console"}');
      await page.locator('[data-write-action="publish"]').click();
      await page
        .getByRole('status')
        .getByText(/^Published .* to 1 subscriptions/)
        .waitFor();
      await page.locator('tr.channel-message[data-topic="orders.us"]').waitFor();

      // Paused, the page holds what arrives (channels keep nothing) and shows it on resume.
      await page.getByRole('button', { name: 'Pause' }).click();
      await page.locator('[data-live-state="paused"]').waitFor();
      await admin.channels.publish('events', 'orders.paused', { n: 1 });
      await page.getByText('1 arrived while paused').waitFor();
      assert.equal(await page.locator('tr[data-topic="orders.paused"]').count(), 0);
      await page.getByRole('button', { name: 'Resume' }).click();
      await page.locator('tr.channel-message[data-topic="orders.paused"]').waitFor();
      const topics = await page.locator('tr.channel-message td:nth-child(2)').allInnerTexts();
      assert.deepEqual(topics, ['orders.paused', 'orders.us', 'orders.eu'], 'newest first');
      // Keyboard: the message opens from its summary.
      await page.locator('tr.channel-message[data-topic="orders.paused"] summary').focus();
      await page.keyboard.press('Enter');
      await page.getByText('"n": 1').waitFor();
      await shot(page, 'channels');

      // A signed-only channel offers no publishing: the console does not hold the secret.
      await page.getByLabel('Channel').selectOption('alerts');
      await page.getByRole('button', { name: 'Watch' }).click();
      await page.getByText('Messages on alerts must be signed').waitFor();
      assert.equal(await page.locator('[data-write-action="publish"]').count(), 0);
    });

    it('shows the lagging subscription and the link', async () => {
      await page.getByRole('link', { name: 'Subscriptions and links' }).click();
      const row = page.locator(`tr[data-subscription="${SEED.subscription}"]`);
      await row.waitFor();
      // Every OrderPlaced (12 seeded, 2 appended by the tail test) lags behind the checkpoint.
      assert.equal(await row.locator('[data-lag-events]').getAttribute('data-lag-events'), '14');
      assert.equal(await row.locator('td').nth(2).innerText(), '-1');
      await page.locator(`tr[data-link="${SEED.link}"]`).waitFor();
      await page.locator(`tr[data-link="${SEED.link}"] [data-write-action="stop-link"]`).waitFor();
      await page.locator('.chart canvas').waitFor();
      await chartSamples(page, 2);
      assert.equal(await row.locator('[data-lease-holder]').innerText(), 'none', 'no consumer');

      // A consumer over the WebSocket: the server's node holds the lease, and the page says so.
      const consumer = await connect(serve.url, {
        token: ADMIN,
        transport: 'websocket',
        WebSocket,
      });
      try {
        await admin.saveSubscription(SEED.store, {
          name: 'held',
          type: 'by_event_type',
          selector: 'OrderShipped',
        });
        const sub = await consumer.subscribe(SEED.store, { name: 'held' });
        await sub[Symbol.asyncIterator]().next();
        const [worker] = await admin.getWorkers(SEED.store);
        assert.ok(worker !== undefined);
        await page
          .locator(`tr[data-subscription="held"] [data-lease-holder="${worker.nodeId}"]`)
          .waitFor();
        await shot(page, 'subscriptions');
        await sub.close();
        await page.locator('tr[data-subscription="held"] [data-lease-holder=""]').waitFor();
        await admin.removeSubscription(SEED.store, 'by_event_type', 'OrderShipped', 'held');
      } finally {
        await consumer.close();
      }
    });

    it('draws the causation chain and opens an event from it', async () => {
      await page.goto(`${serve.url}/ui#/causation/shop/${seeded.chainIds[3] as string}`);
      await page.locator('.graph-canvas canvas').first().waitFor();
      const rows = page.locator('table.causation-list tbody tr');
      await rows.nth(SEED.chain.length - 1).waitFor();
      assert.deepEqual(await rows.locator('th a').allInnerTexts(), [...SEED.chain]);
      await page.waitForTimeout(300); // the layout's fit, for the screenshot
      await shot(page, 'causation');
      await rows.locator('th a', { hasText: 'PaymentRequested' }).click();
      await page.getByRole('heading', { name: 'Event PaymentRequested' }).waitFor();
    });

    it('shows schemas, snapshots, a scavenge preview and archives', async () => {
      await page.getByRole('link', { name: 'Schemas, snapshots, archives' }).click();
      await page.getByRole('cell', { name: 'A customer placed an order' }).waitFor();
      await page.getByRole('rowheader', { name: SEED.archivedStream }).waitFor();
      const key = page.getByRole('link', { name: new RegExp(`${SEED.archivedStream}/0-1`) });
      await key.click();
      await page.locator('tr.event-row').nth(1).waitFor();
      await page.getByLabel('Stream id').fill('order-1');
      await page.getByLabel('Before version (optional)').fill('1');
      await page.getByRole('button', { name: 'Dry run' }).click();
      await page.getByText('would delete 1 events').waitFor();
      await shot(page, 'maintenance');
    });

    it('pages through more snapshots than one page holds, forward and back', async () => {
      for (let i = 0; i < 60; i++) {
        await admin.recordSnapshot(
          SEED.store,
          `pager-${String(i).padStart(2, '0')}`,
          'order-2',
          0,
          {
            data: { i },
          },
        );
      }
      const all = await admin.listSnapshotPage(SEED.store, { limit: 1000 });
      assert.equal(all.next, null);
      const total = all.snapshots.length;
      assert.ok(total > 50 && total <= 100, `${total} snapshots: two pages of 50`);
      await page.goto(`${serve.url}/ui#/maintenance/${SEED.store}`);
      await page.reload(); // the view was open before the snapshots were recorded
      const rows = page.locator('section[aria-labelledby="snapshots-heading"] tbody tr');
      const sources = async (count: number): Promise<string[]> => {
        await rows.nth(count - 1).waitFor();
        assert.equal(await rows.count(), count);
        return rows.locator('td:nth-child(2)').allInnerTexts();
      };
      const first = await sources(50);
      assert.deepEqual(
        first,
        all.snapshots.slice(0, 50).map((s) => s.sourceUuid),
      );
      const pager = page.getByRole('navigation', { name: 'Snapshot pages' });
      await pager.getByRole('link', { name: 'Next →' }).click();
      await pager.getByText('Page 2').waitFor();
      assert.match(page.url(), /snapshotsAfter=.*snapshotsPage=1/);
      assert.deepEqual(
        await sources(total - 50),
        all.snapshots.slice(50).map((s) => s.sourceUuid),
      );
      assert.equal(await pager.getByRole('link', { name: 'Next →' }).count(), 0, 'the last page');
      // The schemas, a list of their own, stay on their first page.
      assert.equal(await page.getByRole('navigation', { name: 'Schema pages' }).count(), 0);
      await pager.getByRole('link', { name: '← Previous' }).click();
      await pager.getByText('Page 1').waitFor();
      assert.deepEqual(await sources(50), first);
    });

    it('is driven by the keyboard', async () => {
      await page.goto(`${serve.url}/ui#/overview`);
      await page.reload();
      await page.locator('tr[data-store="shop"]').waitFor();
      await page.keyboard.press('Tab'); // the skip link
      assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content');
      const streams = page.getByRole('link', { name: 'Streams', exact: true });
      await streams.focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Streams' }).waitFor();
      assert.equal(await streams.getAttribute('aria-current'), 'page');
    });

    it('fits a narrow window', async () => {
      await page.setViewportSize({ width: 420, height: 800 });
      await page.goto(`${serve.url}/ui#/stream/shop/order-1`);
      await page.locator('tr.event-row').first().waitFor();
      const overflow = await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      );
      assert.equal(overflow, 0, 'the page scrolls sideways');
      await shot(page, 'narrow');
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    it('offers no write action to a read token, and the server refuses its writes', async () => {
      const reader = await signedIn(READER);
      assert.equal(await reader.locator('[data-role]').innerText(), 'read-only');
      for (const view of [
        '#/stream/shop/order-1',
        '#/subscriptions/shop',
        '#/maintenance/shop',
        '#/channels?channel=events&topic=orders.*',
      ]) {
        await reader.goto(`${serve.url}/ui${view}`);
        await reader.locator('main table tbody tr').first().waitFor();
        assert.equal(
          await reader.locator('[data-write-action]').count(),
          0,
          `write actions on ${view}`,
        );
        await shot(reader, `read-only-${/^#\/(\w+)/.exec(view)?.[1] as string}`);
      }
      // The read token watches a channel (the read role is enough), with no way to publish.
      await reader.locator('[data-live-state="live"]').waitFor();
      await reader.locator('[data-read-only-channels]').waitFor();
      await admin.channels.publish('events', 'orders.read', { seen: 'by a reader' });
      await reader.locator('tr.channel-message[data-topic="orders.read"]').waitFor();
      // What the page could send with this token: the server refuses the write itself.
      const response = await fetch(`${serve.url}/stores/shop/streams/forbidden-1`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${READER}`,
          'content-type': 'application/json',
          origin: serve.url,
        },
        body: JSON.stringify({ events: [{ eventType: 'Nope', data: {} }] }),
      });
      const status = response.status;
      assert.equal(status, 403);
      const publish = await fetch(`${serve.url}/channels/events/orders.read`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${READER}`,
          'content-type': 'application/json',
          origin: serve.url,
        },
        body: JSON.stringify({ message: { nope: true } }),
      });
      assert.equal(publish.status, 403, 'a read token publishes nothing');
      await reader.close();
    });

    it('met no script error and no Content-Security-Policy violation', () => {
      assert.deepEqual(pageErrors, []);
    });
  },
);
