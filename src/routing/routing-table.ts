import type { Redis } from 'ioredis';
import { PLACEMENT, REGIONS, isSite, type Region, type SiteId } from '../domain/fragmentation.js';
import { redisKeys } from './keys.js';

/** The route of a region: the site serving its writes and reads, under an epoch. */
export interface Route {
  readonly region: Region;
  /** The site serving the region now (its primary, or the backup after a failover). */
  readonly site: SiteId;
  /** Grows on every change of this region's route. */
  readonly epoch: number;
  /** ISO instant of the last change. */
  readonly since: string;
  readonly reason: string;
}

/** Region → route. */
export type RoutingTable = Readonly<Record<Region, Route>>;

function initialRoute(region: Region): Route {
  return { region, site: PLACEMENT[region].primary, epoch: 1, since: new Date().toISOString(), reason: 'initial' };
}

function parseRoute(region: Region, json: string | null | undefined): Route | undefined {
  if (!json) return undefined;
  try {
    const r = JSON.parse(json) as Route;
    return isSite(r.site) && Number.isInteger(r.epoch) ? { ...r, region } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The routing table in Redis: a hash region → route. Workers read it for every job; the gateway
 * reads it for every read. Missing routes are created (primary, epoch 1) atomically with HSETNX.
 */
export class RoutingTableStore {
  private readonly key: string;
  private readonly channel: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = redisKeys(prefix).routes;
    this.channel = redisKeys(prefix).routeChanges;
  }

  /**
   * Drops the routes read last ({@link recent}) whenever a route changes (a message from
   * {@link compareAndSet}) and whenever `subscriber` (re)connects, since messages may have been
   * missed while it was away.
   * @param subscriber a connection of its own (it enters subscriber mode)
   */
  async watch(subscriber: Redis): Promise<void> {
    subscriber.on('message', (channel: string, region: string) => {
      if (channel === this.channel) this.lastRead.delete(region as Region);
    });
    subscriber.on('ready', () => this.lastRead.clear());
    await subscriber.subscribe(this.channel);
    this.lastRead.clear();
  }

  /** Writes the initial routes that are missing (idempotent). */
  async ensure(): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const r of REGIONS) pipe.hsetnx(this.key, r, JSON.stringify(initialRoute(r)));
    await pipe.exec();
  }

  /** Route read last per region, and when (ms since the epoch). */
  private readonly lastRead = new Map<Region, { route: Route; at: number }>();

  /** How long {@link recent} trusts a route read, ms, if no change message came (one may be lost). */
  static readonly RECENT_MS = 1000;

  /** The route of one region (creating the initial one if missing). */
  async get(region: Region): Promise<Route> {
    let route = parseRoute(region, await this.redis.hget(this.key, region));
    if (!route) {
      await this.ensure();
      route = parseRoute(region, await this.redis.hget(this.key, region)) ?? initialRoute(region);
    }
    this.lastRead.set(region, { route, at: Date.now() });
    return route;
  }

  /**
   * The route this store read within the last {@link RoutingTableStore.RECENT_MS} (no round
   * trip), or a fresh read. A route change drops it at once when {@link watch} runs; it may still
   * be stale for the instant the message takes, so use it only where a stale route is caught
   * afterwards (see `applyWrite`).
   */
  async recent(region: Region): Promise<Route> {
    const last = this.lastRead.get(region);
    return last && Date.now() - last.at < RoutingTableStore.RECENT_MS ? last.route : this.get(region);
  }

  /** The whole table. */
  async all(): Promise<RoutingTable> {
    const raw = await this.redis.hgetall(this.key);
    const out = {} as Record<Region, Route>;
    let missing = false;
    for (const r of REGIONS) {
      const route = parseRoute(r, raw[r]);
      if (!route) missing = true;
      out[r] = route ?? initialRoute(r);
    }
    if (missing) await this.ensure();
    return Object.freeze(out);
  }

  /**
   * Moves a region to `site` if its epoch is still `expectedEpoch` (compare-and-set in one Lua
   * call), with epoch + 1.
   * @returns the new route, or undefined when the epoch had moved on (someone else changed it)
   */
  async compareAndSet(region: Region, expectedEpoch: number, site: SiteId, reason: string): Promise<Route | undefined> {
    const next: Route = { region, site, epoch: expectedEpoch + 1, since: new Date().toISOString(), reason };
    const ok = await this.redis.eval(
      `local cur = redis.call('HGET', KEYS[1], ARGV[1])
       if cur then
         local epoch = cjson.decode(cur)['epoch']
         if tonumber(epoch) ~= tonumber(ARGV[2]) then return 0 end
       end
       redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
       redis.call('PUBLISH', KEYS[2], ARGV[1])
       return 1`,
      2,
      this.key,
      this.channel,
      region,
      String(expectedEpoch),
      JSON.stringify(next),
    );
    return ok === 1 ? next : undefined;
  }
}
