import type { Redis } from 'ioredis';
import { SITES, type SiteId } from '../domain/fragmentation.js';
import { redisKeys } from './keys.js';

/** A site's health as the probe job keeps it in Redis. Instants are ISO strings. */
export interface SiteHealthRecord {
  readonly site: SiteId;
  readonly up: boolean;
  /** Failed probes in a row (0 after a success). */
  readonly consecutiveFailures: number;
  /** Successful probes in a row (0 after a failure). */
  readonly consecutiveSuccesses: number;
  readonly lastProbe: string | null;
  readonly lastSuccess: string | null;
  readonly lastError: string | null;
  /** Round trip of the last successful probe, ms. */
  readonly latencyMs: number | null;
}

function empty(site: SiteId): SiteHealthRecord {
  return { site, up: true, consecutiveFailures: 0, consecutiveSuccesses: 0, lastProbe: null, lastSuccess: null, lastError: null, latencyMs: null };
}

/** Site health in Redis (hash site → JSON), written by the probe job, read by status and failover. */
export class SiteHealthStore {
  private readonly key: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = redisKeys(prefix).siteHealth;
  }

  /** Every site's record (a site never probed counts as up with no history). */
  async all(): Promise<Record<SiteId, SiteHealthRecord>> {
    const raw = await this.redis.hgetall(this.key);
    const out = {} as Record<SiteId, SiteHealthRecord>;
    for (const s of SITES) out[s] = raw[s] ? (JSON.parse(raw[s]) as SiteHealthRecord) : empty(s);
    return out;
  }

  /** Folds one probe result into a site's record and stores it. */
  async record(previous: SiteHealthRecord, ok: boolean, latencyMs: number, error: string | null): Promise<SiteHealthRecord> {
    const now = new Date().toISOString();
    const next: SiteHealthRecord = ok
      ? { ...previous, up: true, consecutiveFailures: 0, consecutiveSuccesses: previous.consecutiveSuccesses + 1, lastProbe: now, lastSuccess: now, latencyMs }
      : { ...previous, up: false, consecutiveFailures: previous.consecutiveFailures + 1, consecutiveSuccesses: 0, lastProbe: now, lastError: error, latencyMs: null };
    await this.redis.hset(this.key, previous.site, JSON.stringify(next));
    return next;
  }
}
