/**
 * Messages between the processes that share a backend (channels across the nodes of a
 * cluster). Payloads are opaque text to the bus.
 *
 * Promises: every listener attached when a payload is sent receives it once, whole, whatever
 * its size; payloads sent by one process arrive everywhere in the order it sent them. A process
 * whose connection to the bus is down misses what is sent meanwhile (at most once, like any
 * pub/sub without storage).
 */
export interface MessageBus {
  /** Sends a payload to every process listening (this one included). Resolves once sent. */
  send(payload: string): Promise<void>;
  /** Adds a listener; resolves once this process is listening. Returns the function that stops. */
  listen(listener: (payload: string) => void): Promise<() => void>;
  close(): Promise<void>;
}
