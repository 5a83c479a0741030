import type { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';
import { redisKeys } from '../routing/keys.js';
import type { OpEvent } from './op-events.js';

/**
 * Resolves `?wait=` requests: one Redis subscription per gateway process, waiters keyed by op id
 * (instead of one `waitUntilFinished` listener per request, which BullMQ's maintainers advise
 * against at scale).
 */
export class OpWaiter {
  private readonly waiters = new Map<string, Set<(e: OpEvent) => void>>();
  private readonly channel: string;

  constructor(
    private readonly subscriber: Redis,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = redisKeys(prefix).opEvents;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel || this.waiters.size === 0) return;
      try {
        // One event, or an array of them (a replicate job's batch).
        const parsed = JSON.parse(message) as OpEvent | OpEvent[];
        for (const event of Array.isArray(parsed) ? parsed : [parsed]) {
          const set = this.waiters.get(event.opId);
          if (set) for (const fn of set) fn(event);
        }
      } catch (err) {
        this.logger.warn({ err }, 'op-events.bad_message');
      }
    });
  }

  /** Subscribes (idempotent). */
  async start(): Promise<void> {
    await this.subscriber.subscribe(this.channel);
  }

  /**
   * Waits for the op's event, at most `timeoutMs`. `check` runs after the waiter is registered
   * and then every 2 s, so an op that finished just before, or a lost message, is not missed.
   * @returns the event, or undefined when the time ran out
   */
  async wait(opId: string, timeoutMs: number, check: () => Promise<OpEvent | undefined>): Promise<OpEvent | undefined> {
    let resolveFn!: (e: OpEvent | undefined) => void;
    const done = new Promise<OpEvent | undefined>((r) => (resolveFn = r));
    const set = this.waiters.get(opId) ?? new Set();
    const fn = (e: OpEvent) => resolveFn(e);
    set.add(fn);
    this.waiters.set(opId, set);
    const timer = setTimeout(() => resolveFn(undefined), timeoutMs);
    // The event is the fast path; polling the state every 2 s (a check reads two journals and the
    // partition queues) covers a message lost across a Redis reconnect.
    const poll = () => check().then((e) => e && resolveFn(e), () => undefined);
    void poll();
    const poller = setInterval(poll, 2000);
    try {
      return await done;
    } finally {
      clearInterval(poller);
      clearTimeout(timer);
      set.delete(fn);
      if (set.size === 0) this.waiters.delete(opId);
    }
  }

  /** Number of requests waiting now. */
  get size(): number {
    return this.waiters.size;
  }

  async close(): Promise<void> {
    await this.subscriber.quit().catch(() => undefined);
  }
}
