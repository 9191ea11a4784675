const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

let lastMs = 0;
let sequence = 0;

// Entropy is drawn in blocks: one getRandomValues call per 512 ids instead of one per id.
// `globalThis.crypto` (Web Crypto) exists in Node 20 and in browsers, so this module has no
// Node-only import and the client can use it anywhere.
const RANDOM_BLOCK = 16 * 512;
const randomPool = new Uint8Array(RANDOM_BLOCK);
let randomOffset = RANDOM_BLOCK;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function nextRandom16(): Uint8Array {
  if (randomOffset === RANDOM_BLOCK) {
    globalThis.crypto.getRandomValues(randomPool);
    randomOffset = 0;
  }
  const bytes = randomPool.slice(randomOffset, randomOffset + 16);
  randomOffset += 16;
  return bytes;
}

/**
 * A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter so that ids made in
 * the same millisecond by this process still sort in creation order, then random bits.
 */
export function uuidv7(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    sequence += 1;
    if (sequence > 0xfff) {
      // The counter is exhausted: borrow the next millisecond rather than lose the ordering.
      lastMs += 1;
      sequence = 0;
    }
    ms = lastMs;
  } else {
    lastMs = ms;
    sequence = 0;
  }
  const bytes = nextRandom16();
  // 48 bits do not fit a 32-bit bitwise operation: split the milliseconds arithmetically.
  const high = Math.floor(ms / 0x100000000);
  const low = ms % 0x100000000;
  bytes[0] = (high >>> 8) & 0xff;
  bytes[1] = high & 0xff;
  bytes[2] = (low >>> 24) & 0xff;
  bytes[3] = (low >>> 16) & 0xff;
  bytes[4] = (low >>> 8) & 0xff;
  bytes[5] = low & 0xff;
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  let hex = '';
  for (let i = 0; i < 16; i++) {
    hex += HEX[bytes[i] ?? 0];
    if (i === 3 || i === 5 || i === 7 || i === 9) hex += '-';
  }
  return hex;
}

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
