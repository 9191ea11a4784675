import { EvdbError, invalidArgument } from '../core/errors.js';
import {
  MAX_CALLS_PER_REQUEST,
  type ErrorFrame,
  type Frame,
  type ResultFrame,
} from '../protocol/frames.js';
import { isOperationName } from '../protocol/operations.js';
import { decodeWire, encodeWire, toProblem } from '../protocol/wire.js';
import type { Principal } from './auth.js';
import type { Dispatcher, PartListener } from './dispatcher.js';
import { asEvdbError, httpStatusOf } from './problem.js';
import type { RequestTelemetry } from './request-telemetry.js';

/**
 * Runs one call frame (`{type: 'call', id, op, params}`, parameters in wire form) for a caller:
 * what a WebSocket `call` frame and each call of `POST /calls` do.
 */
export function runCall(
  dispatcher: Dispatcher,
  principal: Principal,
  frame: Frame,
  onPart?: PartListener,
  forwarded = false,
): Promise<unknown> {
  const { op, params } = frame;
  if (typeof op !== 'string' || !isOperationName(op)) {
    throw new EvdbError('not_found', `unknown operation ${JSON.stringify(op)}`, {
      details: { reason: 'no_route' },
    });
  }
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw invalidArgument('call frames carry params: an object of parameters by name');
  }
  return dispatcher.execute(
    op,
    decodeWire(params) as Record<string, unknown>,
    principal,
    onPart,
    forwarded,
  );
}

/**
 * `POST /calls`: several calls in one request, run concurrently (so appends among them share a
 * group commit), each answered on its own with a result or an error frame, in the order asked.
 * The request fails as a whole only when it cannot be read (not a list of 1 to
 * {@link MAX_CALLS_PER_REQUEST} call frames with distinct ids).
 */
export async function runCalls(
  dispatcher: Dispatcher,
  principal: Principal,
  body: unknown,
  requests: RequestTelemetry,
): Promise<(ResultFrame | ErrorFrame)[]> {
  const frames = callFrames(body);
  return Promise.all(
    frames.map(async (frame): Promise<ResultFrame | ErrorFrame> => {
      const id = frame.id as number;
      const storeId = (frame.params as { storeId?: unknown } | undefined)?.storeId;
      const event = requests.start(
        'http',
        typeof frame.op === 'string' && isOperationName(frame.op) ? frame.op : 'unknown',
        typeof storeId === 'string' ? storeId : undefined,
      );
      try {
        const result = await runCall(dispatcher, principal, frame);
        requests.stop(event, 200);
        const answer: ResultFrame = { type: 'result', id };
        if (result !== undefined) answer.result = encodeWire(result, 'result');
        return answer;
      } catch (error) {
        const evdbError = asEvdbError(error);
        const status = httpStatusOf(evdbError);
        requests.fail(event, evdbError, status);
        return { type: 'error', id, problem: toProblem(evdbError, status) };
      }
    }),
  );
}

function callFrames(body: unknown): Frame[] {
  if (!Array.isArray(body) || body.length === 0 || body.length > MAX_CALLS_PER_REQUEST) {
    throw invalidArgument(
      `the body of POST /calls is a list of 1 to ${MAX_CALLS_PER_REQUEST} call frames ` +
        '({type: "call", id, op, params})',
    );
  }
  const ids = new Set<number>();
  for (const frame of body as unknown[]) {
    const { type, id } = (frame ?? {}) as Frame;
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame) || type !== 'call') {
      throw invalidArgument('each call of POST /calls is an object {type: "call", id, op, params}');
    }
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || ids.has(id)) {
      throw invalidArgument('each call of POST /calls has an integer id of its own');
    }
    ids.add(id);
  }
  return body as Frame[];
}
