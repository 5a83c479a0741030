/**
 * `verify`: compares each region's fragment on its primary and on the backup (row counts and
 * content checksums per table) and the reference tables on all four sites, naming the rows that
 * differ (DESIGN.md section 4).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueSet } from '../../queues/queue-set.js';
import { ENTITY_ORDER, ENTITIES } from '../domain/entities.js';
import { PLACEMENT, REGIONS, SITES, type Region, type SiteId } from '../domain/fragmentation.js';
import type { SiteStores } from '../db/site-stores.js';
import type { TableDigest } from '../db/site-store.js';

/** One table of one region compared on two sites. */
export interface TableComparison {
  readonly region: Region | 'reference';
  readonly table: string;
  /** Digest per site compared. */
  readonly sites: Partial<Record<SiteId, TableDigest>>;
  readonly equal: boolean;
  /** Up to 20 ids whose rows differ or exist on one side only. */
  readonly differingRows: Array<{ id: string; only?: SiteId; differs?: boolean }>;
}

/** The result of a verify run. */
export interface VerifyReport {
  /** `equal`: every copy matches; `different`: some rows differ; `unchecked`: a site could not be read or replication did not drain. */
  readonly result: 'equal' | 'different' | 'unchecked';
  readonly tables: TableComparison[];
  readonly problems: string[];
  /** Replication backlog when the comparison started (ops not yet on both copies). */
  readonly backlog: number;
}

/** Options of {@link verifyCluster}. */
export interface VerifyOptions {
  /** How long to wait for the queues to drain first, ms. @defaultValue 60000 */
  readonly drainTimeoutMs?: number;
  /** Only these regions. */
  readonly regions?: readonly Region[];
  /** Compare the reference tables on all four sites too. @defaultValue true */
  readonly reference?: boolean;
}

/** Waits until no apply or replicate job is pending; returns the backlog left (0 when drained). */
export async function waitForDrain(queues: QueueSet, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const depths = await queues.depths();
    const left = REGIONS.reduce((n, r) => n + depths[r].apply + depths[r].replicate, 0);
    if (left === 0 || Date.now() >= deadline) return left;
    await sleep(200);
  }
}

async function compare(stores: SiteStores, table: string, sites: SiteId[], region?: Region): Promise<TableComparison> {
  const digests = await Promise.all(sites.map((s) => stores[s].tableDigest(table, region)));
  const bySite: Partial<Record<SiteId, TableDigest>> = {};
  sites.forEach((s, i) => (bySite[s] = digests[i]));
  const equal = digests.every((d) => d.checksum === digests[0]!.checksum && d.count === digests[0]!.count);
  const differingRows: TableComparison['differingRows'] = [];
  if (!equal) {
    const maps = await Promise.all(sites.map((s) => stores[s].rowDigests(table, region)));
    const ids = new Set(maps.flatMap((m) => [...m.keys()]));
    for (const id of [...ids].sort()) {
      const present = sites.filter((_, i) => maps[i]!.has(id));
      if (present.length < sites.length) differingRows.push({ id, only: present[0] });
      else if (new Set(maps.map((m) => m.get(id))).size > 1) differingRows.push({ id, differs: true });
      if (differingRows.length >= 20) break;
    }
  }
  return { region: region ?? 'reference', table, sites: bySite, equal, differingRows };
}

/**
 * Compares every region's fragment on its primary and on the backup, after waiting (bounded)
 * for replication to drain. Never throws for a site that is down: the report says `unchecked`.
 */
export async function verifyCluster(stores: SiteStores, queues: QueueSet | undefined, options: VerifyOptions = {}): Promise<VerifyReport> {
  const problems: string[] = [];
  let backlog = 0;
  if (queues) {
    try {
      backlog = await waitForDrain(queues, options.drainTimeoutMs ?? 60_000);
      if (backlog > 0) problems.push(`replication did not drain: ${backlog} ops still queued`);
    } catch (err) {
      problems.push(`queues could not be read: ${(err as Error).message}`);
    }
  }
  const tables: TableComparison[] = [];
  try {
    if (options.reference ?? true) tables.push(await compare(stores, 'region', [...SITES]));
    for (const region of options.regions ?? REGIONS) {
      const { primary, backup } = PLACEMENT[region];
      for (const entity of ENTITY_ORDER) tables.push(await compare(stores, ENTITIES[entity].table, [primary, backup], region));
    }
  } catch (err) {
    problems.push(`a site could not be read: ${(err as Error).message}`);
    return { result: 'unchecked', tables, problems, backlog };
  }
  const equal = tables.every((t) => t.equal);
  return { result: !equal ? 'different' : problems.length ? 'unchecked' : 'equal', tables, problems, backlog };
}
