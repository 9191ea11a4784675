import { EvdbError } from '../core/errors.js';

/** A server node that can serve a call. */
export interface Worker {
  /** The host the worker runs on; compared with the caller's own host for local-first routing. */
  node: string;
}

/**
 * Local-first round robin (SPEC §13): the `index`-th pick among the workers on the caller's own
 * host (`node`) when there are any, else among all workers. Pass an increasing `index` (a call
 * counter) to spread calls; throws a retriable `no_workers` when the list is empty.
 *
 * @example
 * pickWorker([{ node: 'a' }, { node: 'b' }, { node: 'b' }], 'b', 3); // the second worker on 'b'
 */
export function pickWorker<W extends Worker>(
  workers: readonly W[],
  node: string,
  index: number,
): W {
  if (workers.length === 0) {
    throw new EvdbError('no_workers', 'no server node is available for this call');
  }
  const local = workers.filter((worker) => worker.node === node);
  const pool = local.length > 0 ? local : workers;
  const slot = ((Math.trunc(index) % pool.length) + pool.length) % pool.length;
  return pool[slot] as W;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[?::1\]?|\[?::ffff:127(?:\.\d{1,3}){3}\]?)$/i;

/** True for names that always mean "this machine". */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host);
}
