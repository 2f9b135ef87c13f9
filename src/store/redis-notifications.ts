import type { Redis } from 'ioredis';
import type { RedisScriptClient } from './redis-connection.js';

type Listener = (ids: string[]) => void;

/**
 * The Redis store's pub/sub side: the scripts PUBLISH space-separated ids on the grants and recycle channels
 * (RedisKeys.grantsChannel / recycleChannel); this opens one duplicated connection in subscriber mode when the
 * first listener comes and closes it when the last one leaves or the store closes. Pub/sub is at-most-once (a
 * message sent while the connection is down is lost): listeners must poll as well.
 */
export class RedisNotifications {
  private subscriber: Redis | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Per channel: the SUBSCRIBE in flight or done, so a second listener also resolves only once subscribed. */
  private readonly subscribed = new Map<string, Promise<unknown>>();

  constructor(private readonly client: RedisScriptClient) {}

  /**
   * Calls `listener` with the ids of every message on `channel` published after the returned promise resolves;
   * the function it resolves to unsubscribes (safe to call twice).
   */
  async subscribe(channel: string, listener: Listener): Promise<() => Promise<void>> {
    await this.client.call('subscribe', async () => {
      const connection = this.open();
      let set = this.listeners.get(channel);
      if (!set) {
        set = new Set();
        this.listeners.set(channel, set);
      }
      set.add(listener);
      let pending = this.subscribed.get(channel);
      if (!pending) {
        pending = connection.subscribe(channel);
        this.subscribed.set(channel, pending);
      }
      try {
        await pending;
      } catch (error) {
        set.delete(listener);
        this.subscribed.delete(channel);
        throw error;
      }
    });
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      const set = this.listeners.get(channel);
      if (!set?.delete(listener) || set.size > 0) return;
      this.listeners.delete(channel);
      this.subscribed.delete(channel);
      if (this.listeners.size === 0) await this.close();
      else await this.subscriber?.unsubscribe(channel).catch(() => {});
    };
  }

  /** Ends every subscription and closes the subscriber connection. Safe to call twice. */
  async close(): Promise<void> {
    this.listeners.clear();
    this.subscribed.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (!subscriber) return;
    try {
      await subscriber.quit();
    } catch {
      subscriber.disconnect();
    }
  }

  private open(): Redis {
    if (this.subscriber) return this.subscriber;
    // duplicate(): same server and options; a connection in subscriber mode runs nothing but (un)subscribe.
    const subscriber = this.client.redis.duplicate();
    subscriber.on('error', () => {}); // it reconnects and resubscribes on its own; polling covers what it missed
    subscriber.on('message', (channel: string, message: string) => {
      const ids = message.split(' ').filter((id) => id.length > 0);
      for (const listener of [...(this.listeners.get(channel) ?? [])]) {
        try {
          listener(ids);
        } catch {
          // One listener's failure must not stop the others or the connection.
        }
      }
    });
    this.subscriber = subscriber;
    return subscriber;
  }
}
