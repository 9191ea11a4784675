import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EvdbError } from '../src/core/errors.js';
import {
  compareUtf8,
  decodeCursor,
  encodeCursor,
  keyRange,
  prefixEnd,
} from '../src/core/paging.js';

describe('paging', () => {
  it('a cursor is opaque text that decodes to the key it was made from', () => {
    for (const key of ['', 'order-1', 'ordre/été 🎉', 'x'.repeat(1024), 'a+b/c=']) {
      const cursor = encodeCursor(key);
      assert.match(cursor, /^k1\.[A-Za-z0-9_-]*$/);
      assert.equal(decodeCursor(cursor, 1024), key);
    }
    for (const bad of ['order-1', 'k1.$', 'k1.' + 'A'.repeat(2000), 'k1./w', 42, null]) {
      assert.throws(
        () => decodeCursor(bad, 1024),
        (error: unknown) => {
          return error instanceof EvdbError && error.code === 'invalid_argument';
        },
      );
    }
  });

  it('prefixEnd is the least string above every string with the prefix', () => {
    assert.equal(prefixEnd(''), undefined);
    assert.equal(prefixEnd('order-'), 'order.');
    assert.equal(prefixEnd('a\u{10ffff}'), 'b');
    assert.equal(prefixEnd('\u{10ffff}\u{10ffff}'), undefined);
    assert.equal(prefixEnd('x\u{d7ff}'), 'x\u{e000}', 'the surrogates are skipped');
    assert.equal(prefixEnd('x\u{ffff}'), 'x\u{10000}');
  });

  it('compareUtf8 sorts as UTF-8 bytes do, not as UTF-16 code units', () => {
    const words = ['b', '🎉', '\u{ffff}', 'a', 'é', '', 'ab', '\u{e000}', '\u{10ffff}'];
    const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual([...words].sort(compareUtf8), byBytes);
  });

  it('keyRange goes on after the cursor only when the cursor is inside the prefix', () => {
    assert.deepEqual(keyRange('o', undefined), { from: 'o', fromExclusive: false, before: 'p' });
    assert.deepEqual(keyRange('o', 'a'), { from: 'o', fromExclusive: false, before: 'p' });
    assert.deepEqual(keyRange('o', 'or'), { from: 'or', fromExclusive: true, before: 'p' });
  });
});
