import type { LinkApi, SubscriptionApi } from '../core/api.js';
import type {
  CreateLinkOptions,
  EventRecord,
  LinkDefinition,
  LinkInfo,
  LinkPage,
  SaveSubscriptionOptions,
  SubscribeOptions,
  Subscription,
  SubscriptionDefinition,
  SubscriptionHandler,
  ListOptions,
  SubscriptionInfo,
  SubscriptionPage,
  SubscriptionLag,
  SubscriptionSelector,
  SubscriptionType,
} from '../core/types.js';
import { typedSubscription, untypedHandler } from '../core/typed-casts.js';
import type { EventShape } from '../core/typed-events.js';
import type { StoreRegistry } from '../store/store-registry.js';
import type { Store } from '../store/store.js';
import type { MemoryGate } from './store-access.js';
import { SubscriptionHost } from './subscription-host.js';

/**
 * The subscription and link operations. Each open store gets one `SubscriptionHost` on first
 * use, closed with the store; links that run without code resume when their store is opened.
 */
export class SubscriptionService implements SubscriptionApi, LinkApi {
  private readonly hosts = new WeakMap<Store, SubscriptionHost>();

  constructor(
    private readonly stores: StoreRegistry,
    /** This process's node id, which its subscription leases carry. */
    private readonly nodeId: string,
    /** The process's memory pressure, which subscriptions consult. */
    private readonly memory?: MemoryGate,
  ) {
    stores.pipeline.register({
      storeLoaded: (store) => this.host(store).resumeLinks(),
      keepsStoreOpen: (store) => this.hosts.get(store)?.keepsStoreOpen ?? false,
    });
  }

  /** The subscriptions and links of an open store (created on first use). */
  host(store: Store): SubscriptionHost {
    store.assertOpen();
    let host = this.hosts.get(store);
    if (host === undefined) {
      const created = new SubscriptionHost({
        storeId: store.storeId,
        nodeId: this.nodeId,
        log: store.log,
        appendSystem: (write) => store.appendSystem(write),
        deleteSystemStream: (streamId) => {
          store.assertOpen();
          return store.log.deleteStream(streamId);
        },
        onCommitted: (listener) => store.onCommitted(listener),
        memory: this.memory,
      });
      store.onClose(() => created.close());
      this.hosts.set(store, created);
      host = created;
    }
    return host;
  }

  /** Runs `work` on the store's host; the store stays open while `work` runs. */
  private withHost<T>(storeId: string, work: (host: SubscriptionHost) => Promise<T>): Promise<T> {
    return this.stores.use(storeId, (store) => work(this.host(store)));
  }

  async saveSubscription(
    storeId: string,
    options: SaveSubscriptionOptions,
  ): Promise<SubscriptionInfo> {
    return this.withHost(storeId, (host) => host.saveSubscription(options));
  }

  async removeSubscription(
    storeId: string,
    type: SubscriptionType,
    selector: SubscriptionSelector,
    name: string,
  ): Promise<void> {
    return this.withHost(storeId, (host) => host.removeSubscription(type, selector, name));
  }

  async ackEvent(
    storeId: string,
    name: string,
    eventOrPosition: EventRecord | number,
  ): Promise<number> {
    return this.withHost(storeId, (host) => host.ackEvent(name, eventOrPosition));
  }

  async getSubscriptions(storeId: string): Promise<SubscriptionDefinition[]> {
    return this.withHost(storeId, (host) => host.getSubscriptions());
  }

  async getSubscription(storeId: string, name: string): Promise<SubscriptionInfo> {
    return this.withHost(storeId, (host) => host.getSubscription(name));
  }

  async listStoreSubscriptions(storeId: string): Promise<SubscriptionInfo[]> {
    return this.withHost(storeId, (host) => host.listStoreSubscriptions());
  }

  async listSubscriptionPage(storeId: string, options?: ListOptions): Promise<SubscriptionPage> {
    return this.withHost(storeId, (host) => host.listSubscriptionPage(options));
  }

  async subscriptionLag(storeId: string, name: string): Promise<SubscriptionLag> {
    return this.withHost(storeId, (host) => host.subscriptionLag(name));
  }

  async subscribe<E extends EventShape = EventShape>(
    storeId: string,
    options: SubscribeOptions,
    handler?: SubscriptionHandler<E>,
  ): Promise<Subscription<E>> {
    return typedSubscription(
      this.withHost(storeId, (host) => host.subscribe(options, untypedHandler(handler))),
    );
  }

  async createLink(storeId: string, options: CreateLinkOptions): Promise<LinkDefinition> {
    return this.withHost(storeId, (host) => host.createLink(options));
  }

  async deleteLink(storeId: string, name: string): Promise<void> {
    return this.withHost(storeId, (host) => host.deleteLink(name));
  }

  async getLink(storeId: string, name: string): Promise<LinkDefinition> {
    return this.withHost(storeId, (host) => host.getLink(name));
  }

  async listLinks(storeId: string): Promise<LinkDefinition[]> {
    return this.withHost(storeId, (host) => host.listLinks());
  }

  async listLinkPage(storeId: string, options?: ListOptions): Promise<LinkPage> {
    return this.withHost(storeId, (host) => host.listLinkPage(options));
  }

  async startLink(storeId: string, name: string): Promise<void> {
    return this.withHost(storeId, (host) => host.startLink(name));
  }

  async stopLink(storeId: string, name: string): Promise<void> {
    return this.withHost(storeId, (host) => host.stopLink(name));
  }

  async linkInfo(storeId: string, name: string): Promise<LinkInfo> {
    return this.withHost(storeId, (host) => host.linkInfo(name));
  }
}
