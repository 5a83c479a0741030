/**
 * ESS end to end: the data the writes hang from, and single meter-reading writes through the
 * gateway, closed loop (full speed) and open loop (a fixed offered rate, latency from the
 * scheduled send time so slow answers cannot hide queueing).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { REGIONS, type Region } from '../../src/domain/fragmentation.js';
import type { HttpClient } from '../lib/http-client.js';
import type { OpTracker } from '../lib/op-tracker.js';
import { nowMs, perSecond, summarize, type LatencySummary } from '../lib/stats.js';

/** The parents the bench writes under: contracts across the three regions and every partition. */
export interface BenchParents {
  readonly contracts: Array<{ id: string; region: Region }>;
  /** Op ids of the setup writes. */
  readonly opIds: string[];
}

interface BatchAnswer {
  items?: Array<{ status: number; opId?: string; error?: { code: string; message: string } }>;
  error?: { message: string };
}

/** What a series of batch requests gave: op ids of the accepted items, and what was refused. */
export interface BatchOutcome {
  /** Op ids of the accepted items (item order; refused items left out). */
  readonly opIds: string[];
  readonly refused: number;
  readonly firstRefusal?: string;
}

/**
 * Posts creates through the batch API (`size` per request, `parallel` requests in flight). A
 * refused item or a failed request is counted, not retried: a retry could not tell which items of
 * a failed request were accepted.
 */
export async function postBatches(http: HttpClient, entityPath: string, rows: readonly unknown[], parallel = 4, size = 500): Promise<BatchOutcome> {
  const ids: Array<string | undefined> = new Array(rows.length);
  let refused = 0;
  let firstRefusal: string | undefined;
  let next = 0;
  const worker = async () => {
    while (next < rows.length) {
      const start = next;
      next += size;
      const batch = rows.slice(start, start + size);
      let res;
      try {
        res = await http.request<BatchAnswer>('POST', `/api/${entityPath}/batch`, { items: batch });
      } catch (err) {
        refused += batch.length;
        firstRefusal ??= `POST /api/${entityPath}/batch: ${(err as Error).message}`;
        continue;
      }
      if (!res.body?.items) {
        refused += batch.length;
        firstRefusal ??= `POST /api/${entityPath}/batch: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
        continue;
      }
      res.body.items.forEach((it, i) => {
        if (it.status === 202 && it.opId) ids[start + i] = it.opId;
        else {
          refused++;
          firstRefusal ??= `POST /api/${entityPath}/batch item ${start + i}: ${it.status} ${it.error?.code}: ${it.error?.message}`;
        }
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { opIds: ids.filter((x): x is string => x !== undefined), refused, ...(firstRefusal ? { firstRefusal } : {}) };
}

/** {@link postBatches} that must accept every item (setup). */
async function postAll(http: HttpClient, entityPath: string, rows: readonly unknown[]): Promise<string[]> {
  const r = await postBatches(http, entityPath, rows);
  if (r.refused) throw new Error(`setup: ${r.refused} ${entityPath} refused; first: ${r.firstRefusal}`);
  return r.opIds;
}

/**
 * Creates `branchesPerRegion` branches per region, a customer per branch and `contractsPerBranch`
 * contracts per customer; waits until all are replicated. (Queue partitions follow the entity
 * key, so the readings written under these contracts spread over every partition.)
 */
export async function setupParents(http: HttpClient, tracker: OpTracker, tag: string, branchesPerRegion: number, contractsPerBranch: number): Promise<BenchParents> {
  const branches = REGIONS.flatMap((region) => Array.from({ length: branchesPerRegion }, (_, i) => ({ id: `${tag}-${region}-B${i}`, name: `Bench branch ${region} ${i}`, region })));
  const customers = branches.map((b) => ({ id: `${b.id}-KH`, name: `Bench customer ${b.id}`, branchId: b.id }));
  const contracts = branches.flatMap((b) =>
    Array.from({ length: contractsPerBranch }, (_, k) => ({ id: `${b.id}-HD${k}`, customerId: `${b.id}-KH`, signedOn: '2024-01-01', meterSerial: `M-${b.id}-${k}`, region: b.region })),
  );
  const opIds = [
    ...(await postAll(http, 'branches', branches)),
    ...(await postAll(http, 'customers', customers)),
    ...(await postAll(http, 'contracts', contracts.map(({ region: _r, ...c }) => c))),
  ];
  const missing = await tracker.drain(opIds, 60_000);
  if (missing.length) throw new Error(`setup: ${missing.length} parent writes not replicated within 60 s`);
  return { contracts: contracts.map((c) => ({ id: c.id, region: c.region })), opIds };
}

/** Figures of one ESS write run. */
export interface EssWriteResult {
  readonly mode: 'closed' | 'open';
  readonly clients: number;
  /** Open loop: the offered rate, writes/s. */
  readonly offeredPerSec?: number;
  readonly sent: number;
  readonly accepted: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly sendMs: number;
  readonly acceptedPerSec: number;
  readonly appliedPerSec: number;
  readonly replicatedPerSec: number;
  /** From the first send to the last op replicated, ms. */
  readonly drainMs: number;
  readonly notReplicated: number;
  readonly latency: {
    readonly to202: LatencySummary;
    readonly toAppliedPrimary: LatencySummary;
    readonly toAppliedBackup: LatencySummary;
    readonly toAppliedBackupJournal: LatencySummary;
  };
}

function readingBody(id: string, contractId: string, i: number) {
  const day = new Date(Date.UTC(2020, 0, 1) + (i % 3650) * 86_400_000).toISOString().slice(0, 10);
  return { id, contractId, readOn: day, kwh: ((i % 9973) / 100 + 1).toFixed(3), meterIndex: null, halfHours: 48 };
}

interface Sent {
  readonly opId: string;
  /** Send (closed) or scheduled (open) instant, ms since the epoch. */
  readonly start: number;
}

async function finish(
  mode: 'closed' | 'open',
  tracker: OpTracker,
  clients: number,
  t0: number,
  sendMs: number,
  sent: Sent[],
  lat202: number[],
  errors: number,
  firstError: string | undefined,
  drainTimeoutMs: number,
  offeredPerSec?: number,
): Promise<EssWriteResult> {
  const ids = sent.map((s) => s.opId);
  const missing = await tracker.drain(ids, drainTimeoutMs);
  const [primary, backup] = await Promise.all([tracker.appliedOnPrimary(ids), tracker.applied('db4', ids)]);
  const toP: number[] = [];
  const toB: number[] = [];
  const toBJ: number[] = [];
  let lastP = t0;
  let lastB = t0;
  for (const s of sent) {
    const p = primary.get(s.opId);
    const b = tracker.replicatedAt.get(s.opId);
    const bj = backup.get(s.opId);
    if (p !== undefined) (toP.push(p - s.start), (lastP = Math.max(lastP, p)));
    if (b !== undefined) (toB.push(b - s.start), (lastB = Math.max(lastB, b)));
    if (bj !== undefined) toBJ.push(bj - s.start);
  }
  return {
    mode,
    clients,
    ...(offeredPerSec ? { offeredPerSec } : {}),
    sent: sent.length + errors,
    accepted: sent.length,
    errors,
    ...(firstError ? { firstError } : {}),
    sendMs: Math.round(sendMs),
    acceptedPerSec: perSecond(sent.length, sendMs),
    appliedPerSec: perSecond(primary.size, lastP - t0),
    replicatedPerSec: perSecond(toB.length, lastB - t0),
    drainMs: Math.round(lastB - t0),
    notReplicated: missing.length,
    latency: { to202: summarize(lat202), toAppliedPrimary: summarize(toP), toAppliedBackup: summarize(toB), toAppliedBackupJournal: summarize(toBJ) },
  };
}

/** Full speed: `clients` loops, each posting one reading and waiting for its `202`, for `durationMs`. */
export async function closedLoop(http: HttpClient, tracker: OpTracker, parents: BenchParents, tag: string, clients: number, durationMs: number, drainTimeoutMs: number): Promise<EssWriteResult> {
  const sent: Sent[] = [];
  const lat: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let n = 0;
  const t0 = nowMs();
  const end = t0 + durationMs;
  const loop = async () => {
    while (nowMs() < end) {
      const i = n++;
      const contract = parents.contracts[i % parents.contracts.length]!;
      const s = nowMs();
      try {
        const res = await http.request<{ opId?: string }>('POST', '/api/meter-readings', readingBody(`${tag}-${i}`, contract.id, i));
        if (res.status === 202 && res.body?.opId) {
          lat.push(nowMs() - s);
          sent.push({ opId: res.body.opId, start: s });
        } else {
          errors++;
          firstError ??= `HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
        }
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  return finish('closed', tracker, clients, t0, nowMs() - t0, sent, lat, errors, firstError, drainTimeoutMs);
}

/**
 * Fixed offered rate: sends are scheduled by the clock (`rate` per second for `durationMs`) and
 * fired whether or not earlier ones were answered; at most `clients` connections, so a request
 * waiting for a connection counts that wait. Latency runs from the scheduled instant.
 */
export async function openLoop(http: HttpClient, tracker: OpTracker, parents: BenchParents, tag: string, clients: number, rate: number, durationMs: number, drainTimeoutMs: number): Promise<EssWriteResult> {
  const total = Math.round((rate * durationMs) / 1000);
  const sent: Sent[] = [];
  const lat: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const inflight = new Set<Promise<void>>();
  const t0 = nowMs() + 5;
  let i = 0;
  while (i < total) {
    const now = nowMs();
    while (i < total && t0 + (i * 1000) / rate <= now) {
      const scheduled = t0 + (i * 1000) / rate;
      const contract = parents.contracts[i % parents.contracts.length]!;
      const p = http
        .request<{ opId?: string }>('POST', '/api/meter-readings', readingBody(`${tag}-${i}`, contract.id, i))
        .then(
          (res) => {
            if (res.status === 202 && res.body?.opId) {
              lat.push(nowMs() - scheduled);
              sent.push({ opId: res.body.opId, start: scheduled });
            } else {
              errors++;
              firstError ??= `HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
            }
          },
          (err: Error) => {
            errors++;
            firstError ??= err.message;
          },
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
      i++;
    }
    if (i < total) await sleep(Math.max(0, Math.min(1, t0 + (i * 1000) / rate - nowMs())));
  }
  await Promise.all(inflight);
  return finish('open', tracker, clients, t0, nowMs() - t0, sent, lat, errors, firstError, drainTimeoutMs, rate);
}
