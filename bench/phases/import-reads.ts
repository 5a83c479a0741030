/**
 * The import of the real household readings through the batch API, the memory fill, and the
 * scatter-gather read.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseProvinces, planHouseholdImport } from '../../src/import/household-plan.js';
import type { HttpClient } from '../lib/http-client.js';
import type { OpTracker } from '../lib/op-tracker.js';
import { nowMs, perSecond, summarize, type LatencySummary } from '../lib/stats.js';
import { postBatches, type BenchParents } from './ess-writes.js';

/** Figures of the import. */
export interface ImportResult {
  readonly file: string;
  readonly readings: number;
  readonly parents: number;
  readonly rejectedBeforeSending: number;
  /** From the first request to the last reading's `202`, ms. */
  readonly sentMs: number;
  /** From the first request to the last write replicated on the backup, ms. */
  readonly wallMs: number;
  readonly readingsPerSec: number;
  /** Items the gateway refused (or requests that failed); 0 in a sound run. */
  readonly refused: number;
  readonly firstRefusal?: string;
  readonly notReplicated: number;
}

/**
 * Imports `lcl_daily_block_0.csv` like `npm run import` does (branches, customers, contracts,
 * readings; 500 per batch request, 4 in flight), ids prefixed with the run's tag so a rerun
 * against the same sites never collides. `limit` keeps only the first readings (quick runs).
 */
export async function importReadings(http: HttpClient, tracker: OpTracker, dataDir: string, tag: string, drainTimeoutMs: number, limit?: number): Promise<ImportResult> {
  const file = path.join(dataDir, 'lcl_daily_block_0.csv');
  let csv: string;
  let provinces: string;
  try {
    [csv, provinces] = await Promise.all([readFile(file, 'utf8'), readFile(path.join(dataDir, 'province_regions.csv'), 'utf8')]);
  } catch (err) {
    throw new Error(`import: cannot read the data (${(err as Error).message}); set ESS_DATA_DIR or --data <dir>`);
  }
  const plan = planHouseholdImport(csv, parseProvinces(provinces));
  const t = (id: string) => `${tag}${id}`;
  const branches = plan.branches.map((b) => ({ ...b, id: t(b.id) }));
  const customers = plan.customers.map((c) => ({ ...c, id: t(c.id), branchId: t(c.branchId) }));
  const contracts = plan.contracts.map((c) => ({ ...c, id: t(c.id), customerId: t(c.customerId) }));
  const readings = plan.readings.slice(0, limit ?? plan.readings.length).map((r) => ({ ...r, id: t(r.id), contractId: t(r.contractId) }));
  const t0 = nowMs();
  const outcomes = [
    await postBatches(http, 'branches', branches),
    await postBatches(http, 'customers', customers),
    await postBatches(http, 'contracts', contracts),
    await postBatches(http, 'meter-readings', readings),
  ];
  const sentMs = nowMs() - t0;
  const ids = outcomes.flatMap((o) => o.opIds);
  const refused = outcomes.reduce((n, o) => n + o.refused, 0);
  const firstRefusal = outcomes.find((o) => o.firstRefusal)?.firstRefusal;
  const missing = await tracker.drain(ids, drainTimeoutMs);
  let last = t0;
  for (const id of ids) last = Math.max(last, tracker.replicatedAt.get(id) ?? t0);
  const wallMs = last - t0;
  return {
    file,
    readings: readings.length,
    parents: branches.length + customers.length + contracts.length,
    rejectedBeforeSending: plan.rejected.length,
    sentMs: Math.round(sentMs),
    wallMs: Math.round(wallMs),
    readingsPerSec: perSecond(readings.length - outcomes[3]!.refused, wallMs),
    refused,
    ...(firstRefusal ? { firstRefusal } : {}),
    notReplicated: missing.length,
  };
}

/** Figures of the memory fill. */
export interface FillResult {
  readonly writes: number;
  readonly wallMs: number;
  readonly writesPerSec: number;
  readonly refused: number;
  readonly firstRefusal?: string;
  readonly notReplicated: number;
}

/** Writes `count` readings through the batch API (the memory phase's bulk), then drains. */
export async function fillReadings(http: HttpClient, tracker: OpTracker, parents: BenchParents, tag: string, count: number, drainTimeoutMs: number): Promise<FillResult> {
  const rows = Array.from({ length: count }, (_, i) => {
    const c = parents.contracts[i % parents.contracts.length]!;
    return { id: `${tag}-${i}`, contractId: c.id, readOn: '2023-06-01', kwh: '1.500', halfHours: 48 };
  });
  const t0 = nowMs();
  const { opIds: ids, refused, firstRefusal } = await postBatches(http, 'meter-readings', rows);
  const missing = await tracker.drain(ids, drainTimeoutMs);
  let last = t0;
  for (const id of ids) last = Math.max(last, tracker.replicatedAt.get(id) ?? t0);
  return { writes: ids.length, wallMs: Math.round(last - t0), writesPerSec: perSecond(ids.length, last - t0), refused, ...(firstRefusal ? { firstRefusal } : {}), notReplicated: missing.length };
}

/** Figures of the scatter-gather read. */
export interface ReadResult {
  readonly clients: number;
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly perSec: number;
  readonly latency: LatencySummary;
}

/**
 * `clients` loops of `GET /api/meter-readings?limit=100` (every region, global id order) for
 * `durationMs`; an answer counts only when it holds 100 rows in order and is not partial.
 */
export async function scatterGather(http: HttpClient, clients: number, durationMs: number): Promise<ReadResult> {
  const lat: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = nowMs();
  const end = t0 + durationMs;
  const loop = async () => {
    while (nowMs() < end) {
      const s = nowMs();
      try {
        const res = await http.request<{ items?: Array<{ id: string }>; partial?: boolean; servedBy?: object }>('GET', '/api/meter-readings?limit=100');
        const items = res.body?.items ?? [];
        const ordered = items.every((it, i) => i === 0 || items[i - 1]!.id < it.id);
        if (res.status === 200 && items.length === 100 && ordered && res.body.partial === false && Object.keys(res.body.servedBy ?? {}).length === 3) lat.push(nowMs() - s);
        else {
          errors++;
          firstError ??= `HTTP ${res.status}: ${items.length} items, ordered ${ordered}, partial ${res.body?.partial}`;
        }
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const ms = nowMs() - t0;
  return { clients, requests: lat.length, errors, ...(firstError ? { firstError } : {}), perSec: perSecond(lat.length, ms), latency: summarize(lat) };
}
