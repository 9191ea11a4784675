// The boundary checks on the hot path of every request, against the parse they precede: the
// strict UTF-8 decoding and the depth scan of `parseJsonText`, on a typical append body.
// Run: node --import tsx bench/boundary-checks.ts
import { assertTextDepth, MAX_TEXT_DEPTH } from '../src/protocol/json-text.js';

const events = (n: number): string =>
  JSON.stringify({
    storeId: 'shop',
    streamId: 'order-1',
    events: Array.from({ length: n }, (_, i) => ({
      eventType: 'OrderPlaced',
      data: {
        orderId: `o-${i}`,
        lines: [{ sku: 'A-1', qty: 2, price: 9.5 }],
        note: 'fragile "glass"',
      },
      tags: ['shop', 'order'],
    })),
  });

const strict = new TextDecoder('utf-8', { fatal: true });

function time(label: string, runs: number, work: () => void): number {
  for (let i = 0; i < runs / 10; i++) work();
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) work();
  const ns = Number(process.hrtime.bigint() - start) / runs;
  console.log(`${label.padEnd(44)} ${(ns / 1000).toFixed(2)} µs`);
  return ns;
}

for (const n of [1, 100, 1000]) {
  const text = events(n);
  const bytes = Buffer.from(text);
  const runs = n === 1 ? 200_000 : n === 100 ? 5_000 : 500;
  console.log(`\n${n} events, ${bytes.length} bytes`);
  const lenient = time('Buffer.toString (before)', runs, () => bytes.toString('utf8'));
  const fatal = time('TextDecoder fatal (after)', runs, () => strict.decode(bytes));
  const scan = time('depth scan', runs, () => assertTextDepth(text, MAX_TEXT_DEPTH));
  const parse = time('JSON.parse', runs, () => {
    JSON.parse(text);
  });
  console.log(
    `added per request: ${((fatal - lenient + scan) / 1000).toFixed(2)} µs = ` +
      `${(((fatal - lenient + scan) / (lenient + parse)) * 100).toFixed(1)} % of decode + parse`,
  );
}
