/**
 * Follows ops through the write path: the replicate worker's `op-events` message (published after
 * the backup's commit) marks an op replicated; the op journals of the primary and the backup give
 * `applied_at` per copy. Waits until a set of ops is replicated (drain).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Config } from '../../src/config/config.js';
import { PLACEMENT, isRegion, type SiteId } from '../../src/domain/fragmentation.js';
import { redisKeys } from '../../src/routing/keys.js';
import { nowMs } from './stats.js';

/** Applied-at instants of ops on one site, ms since the epoch. */
export type AppliedTimes = Map<string, number>;

/** Tracks op events and reads op journals. */
export class OpTracker {
  /** op id → instant the bench received its `replicated` event, ms. */
  readonly replicatedAt = new Map<string, number>();
  readonly failed = new Map<string, string>();
  private readonly sub: Redis;
  private readonly pools: Record<SiteId, pg.Pool>;

  constructor(private readonly config: Config) {
    this.sub = new Redis(config.redisUrl, { connectionName: 'ess-bench-events', maxRetriesPerRequest: null });
    this.sub.on('error', () => undefined);
    const pool = (url: string) => {
      const p = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5000 });
      p.on('error', () => undefined);
      return p;
    };
    this.pools = { db1: pool(config.siteUrls.db1), db2: pool(config.siteUrls.db2), db3: pool(config.siteUrls.db3), db4: pool(config.siteUrls.db4) };
  }

  async start(): Promise<void> {
    const channel = redisKeys(this.config.prefix).opEvents;
    this.sub.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      const t = nowMs();
      // Cheap parse: an event, or an array of events (a replicate job's batch), each starting with its op id.
      for (const m of message.matchAll(/\{"opId":"([^"]+)","state":"(\w+)"/g)) {
        if (m[2] === 'replicated') this.replicatedAt.set(m[1]!, t);
        else this.failed.set(m[1]!, message.slice(m.index, m.index + 300));
      }
    });
    await this.sub.subscribe(channel);
  }

  /** Forgets the events of earlier phases. */
  reset(): void {
    this.replicatedAt.clear();
    this.failed.clear();
  }

  /**
   * Waits until every op is replicated (event seen, or journaled on the backup), at most `timeoutMs`.
   * @returns the op ids still missing (empty when drained)
   */
  async drain(opIds: readonly string[], timeoutMs: number, progress?: (done: number) => void): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let lastDone = -1;
    let stallSince = Date.now();
    for (;;) {
      let done = 0;
      for (const id of opIds) if (this.replicatedAt.has(id) || this.failed.has(id)) done++;
      if (done === opIds.length) return [];
      if (done !== lastDone) {
        lastDone = done;
        stallSince = Date.now();
        progress?.(done);
      }
      // No event for a while: the events may have been missed; ask the backup's journal.
      if (Date.now() - stallSince > 5000 || Date.now() > deadline) {
        const missing = opIds.filter((id) => !this.replicatedAt.has(id) && !this.failed.has(id));
        const found = await this.applied('db4', missing);
        for (const [id, t] of found) this.replicatedAt.set(id, t);
        const still = missing.filter((id) => !found.has(id));
        if (still.length === 0 || Date.now() > deadline) return still;
        stallSince = Date.now();
      }
      await sleep(100);
    }
  }

  /** `applied_at` (ms) of the given ops in a site's op journal. */
  async applied(site: SiteId, opIds: readonly string[]): Promise<AppliedTimes> {
    const out: AppliedTimes = new Map();
    for (let i = 0; i < opIds.length; i += 5000) {
      const chunk = opIds.slice(i, i + 5000);
      const res = await this.pools[site].query<{ op_id: string; t: string }>(
        `SELECT op_id, (extract(epoch FROM applied_at) * 1000)::float8 AS t FROM op_journal WHERE op_id = ANY($1) AND outcome <> 'failed'`,
        [chunk],
      );
      for (const r of res.rows) out.set(r.op_id, Number(r.t));
    }
    return out;
  }

  /** `applied_at` of ops on their region's primary (the op id starts with its region). */
  async appliedOnPrimary(opIds: readonly string[]): Promise<AppliedTimes> {
    const bySite = new Map<SiteId, string[]>();
    for (const id of opIds) {
      const region = id.slice(0, 3);
      if (!isRegion(region)) continue;
      const site = PLACEMENT[region].primary;
      (bySite.get(site) ?? bySite.set(site, []).get(site)!).push(id);
    }
    const out: AppliedTimes = new Map();
    for (const [site, ids] of bySite) for (const [k, v] of await this.applied(site, ids)) out.set(k, v);
    return out;
  }

  /** A pool on a site (limit A uses its own, sized like the workers'). */
  pool(site: SiteId): pg.Pool {
    return this.pools[site];
  }

  async close(): Promise<void> {
    this.sub.disconnect();
    await Promise.all(Object.values(this.pools).map((p) => p.end().catch(() => undefined)));
  }
}
