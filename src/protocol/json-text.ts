import { invalidArgument } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';

/**
 * Levels a request or frame may add around the values it carries (`[{params: {events: [{data:
 * …`), so that data nested exactly `LIMITS.maxJsonDepth` deep still reads and the store's own
 * check names the field that is too deep.
 */
export const ENVELOPE_DEPTH = 8;

/** The deepest JSON text the server parses: deeper nesting is refused before it is parsed. */
export const MAX_TEXT_DEPTH = LIMITS.maxJsonDepth + ENVELOPE_DEPTH;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Parses JSON text received from a caller. Nesting deeper than `maxDepth` is refused with
 * `invalid_argument` after one linear scan and before anything recursive (`JSON.parse`, the
 * wire decoding, the checks of the store) touches it: a body of thousands of brackets costs a
 * scan, not a stack overflow or a blocked event loop.
 */
export function parseJsonText(text: string, maxDepth: number = MAX_TEXT_DEPTH): unknown {
  assertTextDepth(text, maxDepth);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalidArgument(`the JSON is not valid: ${(error as Error).message}`, {
      reason: 'malformed_json',
    });
  }
}

/**
 * Counts brackets outside strings. Malformed text passes (`JSON.parse` reports it); only the
 * depth matters here.
 */
export function assertTextDepth(text: string, maxDepth: number): void {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      // Skip the string: to the next quote that is not escaped.
      for (i++; i < length; i++) {
        const inner = text.charCodeAt(i);
        if (inner === BACKSLASH) i++;
        else if (inner === QUOTE) break;
      }
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        throw invalidArgument(`the JSON is nested deeper than ${maxDepth} levels`, {
          reason: 'too_deep',
          limit: maxDepth,
        });
      }
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth--;
    }
  }
}
