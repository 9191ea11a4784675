// Server-side `$all` filters: on the stream name or the event type, by a regular expression or
// by a list of prefixes. Client regexes run on RE2 (re2js), which matches in linear time, so a
// filter cannot stall the server.
import { RE2JS } from 're2js';
import { invalidArgument } from '../../core/errors.js';
import type { EventRecord } from '../../core/types.js';

const MAX_REGEX_LENGTH = 1024;
const MAX_PREFIXES = 1000;
/** KurrentDB's default search window (events examined per checkpoint interval unit). */
const DEFAULT_WINDOW = 32;

interface WireExpression {
  regex?: string;
  prefix?: string[];
}

export interface WireFilterOptions {
  stream_identifier?: WireExpression;
  event_type?: WireExpression;
  max?: number;
  count?: object;
  checkpointIntervalMultiplier?: number;
}

export interface EventFilter {
  matches(event: EventRecord): boolean;
  /** A subscription sends a checkpoint every this many events examined. */
  checkpointInterval: number;
}

export function compileFilter(
  options: WireFilterOptions | undefined | null,
): EventFilter | undefined {
  if (options === undefined || options === null) return undefined;
  const onStream = options.stream_identifier !== undefined && options.stream_identifier !== null;
  const expression = onStream ? options.stream_identifier : options.event_type;
  if (expression === undefined || expression === null) {
    throw invalidArgument('a filter needs a stream_identifier or an event_type expression');
  }
  const field = onStream
    ? (event: EventRecord): string => event.streamId
    : (event: EventRecord): string => event.eventType;
  const window = options.max !== undefined && options.max > 0 ? options.max : DEFAULT_WINDOW;
  const multiplier = Math.max(1, options.checkpointIntervalMultiplier ?? 1);
  const checkpointInterval = window * multiplier;
  const regex = expression.regex ?? '';
  if (regex !== '') {
    if (regex.length > MAX_REGEX_LENGTH) {
      throw invalidArgument(`a filter regex takes at most ${MAX_REGEX_LENGTH} characters`);
    }
    let compiled: RE2JS;
    try {
      compiled = RE2JS.compile(regex);
    } catch (error) {
      throw invalidArgument(
        `the filter regex ${JSON.stringify(regex)} is not valid: ${(error as Error).message}`,
      );
    }
    return { matches: (event) => compiled.matcher(field(event)).find(), checkpointInterval };
  }
  const prefixes = expression.prefix ?? [];
  if (prefixes.length > MAX_PREFIXES) {
    throw invalidArgument(`a filter takes at most ${MAX_PREFIXES} prefixes`);
  }
  return {
    matches: (event) => {
      const value = field(event);
      return prefixes.some((prefix) => value.startsWith(prefix));
    },
    checkpointInterval,
  };
}
