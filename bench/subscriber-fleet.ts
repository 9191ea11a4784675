// Holds the remote subscriptions of the fan-out benchmark in a process of its own, as remote
// subscribers would be, so that the process that appends and measures does none of their work.
// Driven over the IPC channel by `subscriptions-fanout.ts`: one request at a time, each answered.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import type { Subscription } from '../src/core/types.js';
import { openSelective } from './fanout-workload.js';

export type FleetRequest =
  | { type: 'connect'; url: string; connections: number }
  | { type: 'open'; storeId: string; count: number }
  | { type: 'received' }
  | { type: 'close' }
  | { type: 'heap' }
  | { type: 'exit' };

export type FleetReply =
  { type: 'ok'; received?: number[]; heapUsed?: number } | { type: 'error'; message: string };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const clients: EvdbClient[] = [];
let open: { subscriptions: Subscription[]; received: Int32Array } | undefined;

async function serve(request: FleetRequest): Promise<FleetReply> {
  switch (request.type) {
    case 'connect':
      for (let c = 0; c < request.connections; c++) {
        clients.push(await connect(request.url, { transport: 'websocket', WebSocket }));
      }
      return { type: 'ok' };
    case 'open':
      open = await openSelective(clients, request.storeId, request.count);
      return { type: 'ok' };
    case 'received':
      return { type: 'ok', received: [...(open?.received ?? [])] };
    case 'close':
      await Promise.all((open?.subscriptions ?? []).map((subscription) => subscription.close()));
      open = undefined;
      return { type: 'ok' };
    case 'heap':
      gc();
      gc();
      return { type: 'ok', heapUsed: process.memoryUsage().heapUsed };
    case 'exit':
      // Not answered: the parent waits for this process to exit.
      await Promise.all(clients.map((client) => client.close()));
      process.exit(0);
  }
}

process.on('message', (request: FleetRequest) => {
  serve(request).then(
    (reply) => process.send?.(reply),
    (error: unknown) =>
      process.send?.({
        type: 'error',
        message: error instanceof Error ? error.message : String(error),
      }),
  );
});
