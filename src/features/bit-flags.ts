import { invalidArgument } from '../core/errors.js';

/** Names of flags by their value, e.g. `{ 1: 'Ready', 4: 'Completed', 64: 'Archived' }`. */
export type FlagNames = Readonly<Record<number, string>> | ReadonlyMap<number, string>;

/**
 * Bit flags for aggregate status, as non-negative safe integers (up to 2^53 - 1, beyond the
 * 32 bits of JavaScript's bitwise operators). A flag may combine several bits.
 *
 * @example
 * bitFlags.set(36, 64); // 100
 * bitFlags.hasAll(100, [64, 8]); // false
 * bitFlags.toList(100, { 4: 'Completed', 32: 'Archived', 64: 'Ready to Archive' });
 * // ['Completed', 'Archived', 'Ready to Archive']
 */
export const bitFlags = Object.freeze({
  /** `target` with the bits of `flag` set. */
  set(target: number, flag: number): number {
    return fromBig(big(target, 'target') | big(flag, 'flag'));
  },
  /** `target` with the bits of `flag` cleared. */
  unset(target: number, flag: number): number {
    return fromBig(big(target, 'target') & ~big(flag, 'flag'));
  },
  setAll(target: number, flags: readonly number[]): number {
    return flagList(flags).reduce((state, flag) => bitFlags.set(state, flag), check(target));
  },
  unsetAll(target: number, flags: readonly number[]): number {
    return flagList(flags).reduce((state, flag) => bitFlags.unset(state, flag), check(target));
  },
  /** Every bit of `flag` is set in `target`. */
  has(target: number, flag: number): boolean {
    const bits = big(flag, 'flag');
    return (big(target, 'target') & bits) === bits;
  },
  hasNot(target: number, flag: number): boolean {
    return !bitFlags.has(target, flag);
  },
  hasAll(target: number, flags: readonly number[]): boolean {
    return flagList(flags).every((flag) => bitFlags.has(target, flag));
  },
  hasAny(target: number, flags: readonly number[]): boolean {
    return flagList(flags).some((flag) => bitFlags.has(target, flag));
  },
  /** The single-bit values set in `target`, lowest first: `decompose(100)` is `[4, 32, 64]`. */
  decompose(target: number): number[] {
    let rest = big(target, 'target');
    const bits: number[] = [];
    for (let bit = 1n; rest > 0n; bit <<= 1n) {
      if ((rest & bit) !== 0n) {
        bits.push(Number(bit));
        rest &= ~bit;
      }
    }
    return bits;
  },
  /** The names of the bits set in `target`, lowest first (bits without a name are left out). */
  toList(target: number, names: FlagNames): string[] {
    const named = nameMap(names);
    if (check(target) === 0) return named.has(0) ? [named.get(0) as string] : [];
    return bitFlags
      .decompose(target)
      .filter((bit) => named.has(bit))
      .map((bit) => named.get(bit) as string);
  },
  /** `toList` joined with ', '. */
  toString(target: number, names: FlagNames): string {
    return bitFlags.toList(target, names).join(', ');
  },
  /** The name of the highest bit set in `target` (the name of 0 when none is). */
  highest(target: number, names: FlagNames): string | undefined {
    return bitFlags.toList(target, names).at(-1);
  },
  /** The name of the lowest bit set in `target` (the name of 0 when none is). */
  lowest(target: number, names: FlagNames): string | undefined {
    return bitFlags.toList(target, names)[0];
  },
});

function check(value: number): number {
  big(value, 'target');
  return value;
}

function big(value: number, what: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${what} must be a non-negative safe integer, got ${String(value)}`);
  }
  return BigInt(value);
}

function fromBig(value: bigint): number {
  return Number(value);
}

function flagList(flags: readonly number[]): readonly number[] {
  const list: unknown = flags;
  if (!Array.isArray(list)) throw invalidArgument('flags must be an array of numbers');
  return flags;
}

function nameMap(names: FlagNames): ReadonlyMap<number, string> {
  if (names instanceof Map) return names;
  if (typeof names !== 'object' || names === null) {
    throw invalidArgument('names must map flag values to names');
  }
  return new Map(Object.entries(names).map(([key, name]) => [Number(key), String(name)]));
}
