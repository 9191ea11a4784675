import pg from 'pg';

export interface CommitWatcherOptions {
  /** Connection settings for the dedicated LISTEN connection. */
  connection: pg.ClientConfig;
  /** The NOTIFY channel commits of this store signal on. */
  channel: string;
  /** LISTEN for notifications; false polls only (e.g. behind a transaction-mode pooler). */
  listen: boolean;
  /** Poll period while notifications are unavailable. */
  pollIntervalMs: number;
  /** Reads the store's last committed position (-1 if none). */
  readLastPosition(): Promise<number>;
}

/** While LISTEN works, a slow poll still runs as a safety net (a notification lost in a reconnect). */
const SAFETY_POLL_MS = 5_000;
const MAX_RECONNECT_DELAY_MS = 5_000;

/**
 * Tells listeners in this process when other processes (or this one) commit to a store:
 * PostgreSQL LISTEN/NOTIFY when it is available, polling the store's last position otherwise.
 * Listeners get strictly increasing last positions; a call means "events up to here exist".
 */
export class CommitWatcher {
  private readonly listeners = new Set<(lastPosition: number) => void>();
  private client: pg.Client | undefined;
  private listening = false;
  private reconnectDelay = 100;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private reported = -1;
  private started = false;
  private stopped = false;
  private polling = false;

  constructor(private readonly options: CommitWatcherOptions) {}

  /** Adds a listener (the first one starts the watcher). */
  add(listener: (lastPosition: number) => void): void {
    this.listeners.add(listener);
    if (!this.started) {
      this.started = true;
      void this.start();
    }
  }

  /** Removes a listener; returns how many are left. */
  remove(listener: (lastPosition: number) => void): number {
    this.listeners.delete(listener);
    return this.listeners.size;
  }

  private async start(): Promise<void> {
    await this.poll();
    if (this.options.listen) await this.connect();
    this.schedulePoll();
  }

  private report(lastPosition: number): void {
    if (this.stopped || lastPosition <= this.reported) return;
    this.reported = lastPosition;
    for (const listener of [...this.listeners]) {
      try {
        listener(lastPosition);
      } catch (error) {
        // A listener's own failure must not stop the others or the watcher: surface it async.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.polling) return;
    this.polling = true;
    try {
      this.report(await this.options.readLastPosition());
    } catch {
      // The server is unreachable: the next poll (or the reconnected LISTEN) catches up; the
      // readers' own reads report the failure to their callers.
    } finally {
      this.polling = false;
    }
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay = this.listening ? SAFETY_POLL_MS : this.options.pollIntervalMs;
    this.timer = setTimeout(() => {
      void this.poll().then(() => this.schedulePoll());
    }, delay);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(this.options.connection);
    this.client = client;
    const lost = (): void => {
      if (this.client !== client) return;
      this.client = undefined;
      this.listening = false;
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      // Poll fast until LISTEN is back.
      this.schedulePoll();
      this.retryTimer = setTimeout(() => void this.connect(), this.reconnectDelay);
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_DELAY_MS);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      const position = Number(message.payload);
      if (Number.isSafeInteger(position)) this.report(position);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.options.channel.replaceAll('"', '""')}"`);
    } catch {
      lost();
      return;
    }
    if (this.client !== client) return;
    this.listening = true;
    this.reconnectDelay = 100;
    // Commits made while the connection was down sent notifications nobody heard.
    await this.poll();
    this.schedulePoll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.listening = false;
    this.listeners.clear();
    if (client !== undefined) await client.end().catch(() => undefined);
  }
}
