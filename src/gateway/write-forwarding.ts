import { WebSocket } from 'ws';
import { EvdbError } from '../core/errors.js';
import { WebSocketTransport } from '../client/websocket-transport.js';
import { isConnectionFailure } from '../client/transport.js';
import type { OperationName } from '../protocol/operations.js';
import { WS_PATH } from '../protocol/frames.js';
import { encodeWire } from '../protocol/wire.js';
import type { WriteRoute } from '../store/write-owners.js';

/** What forwarding needs of the node's store (`Evdb`). */
export interface WriteRouting {
  writeRoute(storeId: string): Promise<WriteRoute>;
  forgetWriteRoute(storeId: string): void;
}

/** The frame type of an append one node forwards to a store's write owner. */
export const FORWARD_FRAME = 'forward';

/**
 * Sends a store's appends to its write owner when another node owns it (write-owners.ts),
 * over one WebSocket per owner, so the owner folds them into its own group commits. The owner
 * runs a forwarded append as it runs its own and never forwards it again: a node that is no
 * longer the owner when it arrives commits it unfenced, which is correct for any writer.
 *
 * When the owner cannot be reached, an append that provably never left (connection refused: a
 * dead owner) is committed here instead; one whose fate is unknown (the connection dropped, or
 * no answer within `timeoutMs`: a paused owner) fails as a retriable `unavailable`. The client
 * retries it with the same event ids, so a resend of an append that did commit is a replay.
 */
export class WriteForwarder {
  private readonly peers = new Map<string, WebSocketTransport>();
  private closed = false;

  constructor(
    private readonly routing: WriteRouting,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  async append(
    op: OperationName,
    params: Record<string, unknown>,
    forwarded: boolean,
    local: () => Promise<unknown>,
  ): Promise<unknown> {
    const storeId = params.storeId as string;
    const route = forwarded || this.closed ? undefined : await this.routing.writeRoute(storeId);
    if (route?.owner !== 'peer') return local();
    const wire: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) wire[name] = encodeWire(value, name);
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const { result } = await this.peer(route.url).send(
        { type: FORWARD_FRAME, op, params: wire },
        signal,
      );
      return result;
    } catch (error) {
      if (signal.aborted || isConnectionFailure(error)) this.routing.forgetWriteRoute(storeId);
      if (isConnectionFailure(error) && (error as EvdbError).details.transport === 'unsent') {
        return local();
      }
      if (signal.aborted) {
        throw new EvdbError(
          'unavailable',
          `the write owner of store '${storeId}' did not answer within ${this.timeoutMs} ms; the append may or may not have been written`,
          { details: { storeId, reason: 'write_owner_unavailable', owner: route.nodeId } },
        );
      }
      throw error;
    }
  }

  private peer(url: string): WebSocketTransport {
    let transport = this.peers.get(url);
    if (transport === undefined) {
      transport = new WebSocketTransport(
        url.replace(/^http/, 'ws') + WS_PATH,
        this.token,
        WebSocket,
      );
      this.peers.set(url, transport);
    }
    return transport;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.peers.values()].map((transport) => transport.close()));
  }
}
