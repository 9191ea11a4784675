import pg from 'pg';
import type { MessageBus } from '../message-bus.js';
import { EvdbError } from '../../core/errors.js';
import { toEvdbError } from './errors.js';

export interface PostgresMessageBusOptions {
  connection: pg.ClientConfig;
  /** The NOTIFY channel every process of the catalog listens on. */
  channel: string;
  /** The qualified (quoted) table that holds payloads too large for a notification. */
  table: string;
  /** Resolves once the catalog (and so the table) exists. */
  ready(): Promise<void>;
}

/**
 * NOTIFY refuses payloads of 8 000 bytes or more. Below this, payloads travel inside a
 * notification (several, one per line, when they fit); above, or holding a line break or a
 * {@link NOTE_SEPARATOR}, a payload is stored in the table and the notification carries its row id.
 */
const INLINE_BYTES = 7_800;
/**
 * The bytes of payload sent in one round trip (one transaction of notifications, delivered in
 * order). A round trip costs about the same whatever it carries, so a sender that fell behind
 * catches up by sending everything waiting at once, up to this; a cap by count instead would
 * leave the bus unable to carry more than that count per round trip when the database is slow.
 */
const MAX_BATCH_BYTES = 1 << 20;
/**
 * Separates the notifications of one round trip in the one text parameter that carries them
 * (split by the server): cheaper than a text array, whose every element the driver escapes.
 * JSON text escapes this character, so channel messages never hold it.
 */
const NOTE_SEPARATOR = '\u001e';
/** How long a large payload stays in the table for listeners to fetch it. */
const KEEP_LARGE_MS = 300_000;
const CLEANUP_EVERY_MS = 60_000;
const MAX_RECONNECT_DELAY_MS = 5_000;

interface Pending {
  payload: string;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * A message bus on PostgreSQL LISTEN/NOTIFY, for the processes sharing one catalog.
 *
 * Order: everything this process sends goes through one connection, one batch at a time, and
 * PostgreSQL delivers the notifications of one session in commit order (and those of one
 * transaction in the order sent), so listeners see one sender's payloads in send order.
 * Size: a payload too large for NOTIFY is inserted into a table first (committed before its
 * notification is sent) and fetched by each listener in turn, so it arrives whole and in
 * place; rows are deleted after {@link KEEP_LARGE_MS}.
 */
export class PostgresMessageBus implements MessageBus {
  private sender: pg.Client | undefined;
  private pending: Pending[] = [];
  private flushing = false;
  private lastCleanup = Date.now();
  private readonly listeners = new Set<(payload: string) => void>();
  private receiver: pg.Client | undefined;
  private receiving: Promise<void> | undefined;
  private incoming: string[] = [];
  /** Large payloads this process sent, until its own notification of each comes back. */
  private readonly sentLarge = new Map<string, string>();
  private pumping = false;
  private reconnectDelay = 100;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: PostgresMessageBusOptions) {}

  send(payload: string): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ payload, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Sends made in the same turn share one round trip.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0 && !this.closed) {
      const batch = this.pending.splice(0, this.batchLength());
      try {
        await this.sendBatch(batch.map((p) => p.payload));
        for (const p of batch) p.resolve();
      } catch (error) {
        // The connection may be broken: the next batch opens a new one.
        const sender = this.sender;
        this.sender = undefined;
        void sender?.end().catch(() => undefined);
        const failure = toEvdbError(error, { doing: 'channel publish' });
        for (const p of batch) p.reject(failure);
      }
    }
    this.flushing = false;
    if (this.closed) for (const p of this.pending.splice(0)) p.reject(closedError());
  }

  /** How many pending payloads the next round trip carries: at least one, then up to the size. */
  private batchLength(): number {
    let bytes = 0;
    let count = 0;
    for (const { payload } of this.pending) {
      // Characters, not bytes: a bound on the round trip's size is all that is needed here.
      bytes += payload.length;
      if (count > 0 && bytes > MAX_BATCH_BYTES) break;
      count++;
    }
    return count;
  }

  private async sendBatch(payloads: string[]): Promise<void> {
    const client = await this.senderClient();
    const notes: string[] = [];
    // Small payloads travel several to a notification (one per line), which is what lets the
    // bus carry thousands a second: each notification costs the server far more than its bytes.
    let packed: string[] = [];
    let packedBytes = 0;
    const flushPacked = (): void => {
      if (packed.length > 0) notes.push(`m${packed.join('\n')}`);
      packed = [];
      packedBytes = 0;
    };
    for (const payload of payloads) {
      const bytes = Buffer.byteLength(payload, 'utf8');
      if (bytes <= INLINE_BYTES && !payload.includes('\n') && !payload.includes(NOTE_SEPARATOR)) {
        if (packed.length > 0 && packedBytes + 1 + bytes > INLINE_BYTES) flushPacked();
        packedBytes += (packed.length > 0 ? 1 : 0) + bytes;
        packed.push(payload);
        continue;
      }
      flushPacked();
      const { rows } = await client.query<{ id: string }>({
        text: `INSERT INTO ${this.options.table} (payload) VALUES ($1) RETURNING id`,
        values: [payload],
      });
      const id = rows[0]?.id as string;
      // Our own notification of it comes back: hand it on from here instead of reading it back.
      if (this.receiver !== undefined) this.sentLarge.set(id, payload);
      notes.push(`r${id}`);
    }
    flushPacked();
    // One statement, one transaction: its notifications are delivered together, in this order.
    await client.query({
      text: 'SELECT count(pg_notify($1, note)) FROM unnest(string_to_array($2, $3)) AS note',
      values: [this.options.channel, notes.join(NOTE_SEPARATOR), NOTE_SEPARATOR],
    });
    if (Date.now() - this.lastCleanup > CLEANUP_EVERY_MS) {
      this.lastCleanup = Date.now();
      await client.query({
        text: `DELETE FROM ${this.options.table} WHERE created_at < now() - $1::interval`,
        values: [`${KEEP_LARGE_MS} milliseconds`],
      });
    }
  }

  private async senderClient(): Promise<pg.Client> {
    if (this.sender !== undefined) return this.sender;
    await this.options.ready();
    const client = new pg.Client(this.options.connection);
    client.on('error', () => {
      if (this.sender === client) this.sender = undefined;
    });
    await client.connect();
    if (this.closed) {
      await client.end();
      throw closedError();
    }
    this.sender = client;
    return client;
  }

  async listen(listener: (payload: string) => void): Promise<() => void> {
    if (this.closed) throw closedError();
    this.listeners.add(listener);
    try {
      this.receiving ??= this.connectReceiver();
      await this.receiving;
    } catch (error) {
      this.listeners.delete(listener);
      this.receiving = undefined;
      throw toEvdbError(error, { doing: 'channel subscribe' });
    }
    return () => void this.listeners.delete(listener);
  }

  private async connectReceiver(): Promise<void> {
    await this.options.ready();
    const client = new pg.Client(this.options.connection);
    const lost = (): void => {
      if (this.receiver !== client) return;
      this.receiver = undefined;
      // Our own notifications sent meanwhile are not heard either: forget what they carried.
      this.sentLarge.clear();
      void client.end().catch(() => undefined);
      if (this.closed) return;
      // What is sent until LISTEN is back is not heard here (at most once, see MessageBus).
      this.retryTimer = setTimeout(() => {
        this.receiving = this.connectReceiver().catch(() => {
          // Stays down until the next retry; listen() callers meanwhile see the failure.
          this.receiving = undefined;
        });
      }, this.reconnectDelay);
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_DELAY_MS);
    };
    // Until it is the receiver, `lost` ignores it; connect() reports failures meanwhile.
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (note) => {
      if (note.payload === undefined) return;
      this.incoming.push(note.payload);
      if (!this.pumping) void this.pump(client);
    });
    await client.connect();
    await client.query(`LISTEN "${this.options.channel.replaceAll('"', '""')}"`);
    if (this.closed) {
      await client.end();
      throw closedError();
    }
    this.receiver = client;
    this.reconnectDelay = 100;
  }

  /** Hands notifications on in arrival order, fetching large payloads on the way. */
  private async pump(client: pg.Client): Promise<void> {
    this.pumping = true;
    try {
      while (this.incoming.length > 0 && !this.closed) {
        // Taken as a whole: what arrives meanwhile waits for the next turn of this loop.
        const notes = this.incoming;
        this.incoming = [];
        for (const note of notes) {
          if (this.closed) return;
          const payloads = note.startsWith('m')
            ? note.slice(1).split('\n')
            : [await this.fetchLarge(client, note.slice(1))];
          for (const payload of payloads) {
            if (payload === undefined) continue;
            for (const listener of this.listeners) listener(payload);
          }
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async fetchLarge(client: pg.Client, id: string): Promise<string | undefined> {
    const own = this.sentLarge.get(id);
    if (own !== undefined) {
      this.sentLarge.delete(id);
      return own;
    }
    try {
      const { rows } = await client.query<{ payload: string }>({
        text: `SELECT payload FROM ${this.options.table} WHERE id = $1`,
        values: [id],
      });
      if (rows[0] !== undefined) return rows[0].payload;
      process.emitWarning(`evdb: a large channel message (row ${id}) was gone before it was read`);
    } catch (error) {
      if (this.closed) return undefined;
      process.emitWarning(
        `evdb: a large channel message (row ${id}) could not be read: ${String(error)}`,
      );
    }
    return undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.listeners.clear();
    this.sentLarge.clear();
    const clients = [this.sender, this.receiver].filter((client) => client !== undefined);
    this.sender = undefined;
    this.receiver = undefined;
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  }
}

function closedError(): EvdbError {
  return new EvdbError('unavailable', 'the channel bus is closed', { retriable: false });
}
