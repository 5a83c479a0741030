/** The bench's figures (the JSON written under `bench-results/`) and their printed table. */
import type { LatencySummary } from './lib/stats.js';
import type { EssWriteResult } from './phases/ess-writes.js';
import type { FillResult, ImportResult, ReadResult } from './phases/import-reads.js';
import type { LimitAResult, LimitBResult } from './phases/limits.js';
import type { WorkerProfile } from './profile-read.js';

/** Everything one run measured. */
export interface BenchReport {
  readonly startedAt: string;
  readonly durationS: number;
  readonly mode: 'full' | 'quick';
  readonly machine: { cpus: number; cpuModel: string; memMb: number; loadAvgAtEnd: number[] };
  readonly versions: Record<string, string>;
  readonly settings: Record<string, unknown>;
  readonly limitA: LimitAResult;
  readonly limitB: LimitBResult;
  readonly essClosed: EssWriteResult;
  /** CPU per process during the closed loop (until drained): seconds, and ms per accepted write. */
  readonly essClosedCpu: Record<string, { cpuS: number; msPerWrite: number }>;
  /** Redis commands during the closed loop, per accepted write (own cluster only). */
  readonly essClosedRedis?: { perWrite: number; usecPerWrite: number; commands: Record<string, { callsPerWrite: number; usecPerWrite: number }> } | undefined;
  readonly essOpen: EssWriteResult;
  readonly import: ImportResult;
  readonly fill: FillResult;
  readonly scatterGather: ReadResult;
  readonly scatterGatherOneClient: ReadResult;
  readonly memory: {
    writesInRun: number;
    redisUsedMemoryMb: number;
    redisUsedMemoryPeakMb: number;
    redisKeys: number;
    readingCatalogEntries: number;
    readingCatalogMb: number | null;
    readingSeqMb: number | null;
    processes: Record<'gateway' | 'workers', { pid: number; peakRssMb: number; rssMb: number; polledPeakMb: number }>;
  };
  profile: WorkerProfile | undefined;
}

/** A goal of issue 6 with the figure measured against it. */
export interface GoalCheck {
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean;
}

const lat = (l: LatencySummary) => `${l.p50} / ${l.p95} / ${l.p99}`;
const ratio = (x: number, y: number) => (y > 0 ? Math.round((x / y) * 100) / 100 : NaN);

/** The goals of issue 6 against a report. */
export function goals(r: BenchReport): GoalCheck[] {
  const m = r.memory;
  const rss = m.processes.gateway.peakRssMb + m.processes.workers.peakRssMb;
  return [
    { goal: 'replicated writes/s at full speed >= 0.5 x limit A', measured: `${r.essClosed.replicatedPerSec}/s = ${ratio(r.essClosed.replicatedPerSec, r.limitA.insertsPerSec)} x`, met: r.essClosed.replicatedPerSec >= 0.5 * r.limitA.insertsPerSec },
    { goal: `at ${r.essOpen.offeredPerSec}/s offered: request -> 202 p99 <= 10 ms`, measured: `${r.essOpen.latency.to202.p99} ms`, met: r.essOpen.latency.to202.p99 <= 10 },
    { goal: `at ${r.essOpen.offeredPerSec}/s offered: request -> applied on backup p99 <= 100 ms`, measured: `${r.essOpen.latency.toAppliedBackup.p99} ms`, met: r.essOpen.latency.toAppliedBackup.p99 <= 100 },
    { goal: 'import readings/s >= 0.5 x limit A', measured: `${r.import.readingsPerSec}/s = ${ratio(r.import.readingsPerSec, r.limitA.insertsPerSec)} x`, met: r.import.readingsPerSec >= 0.5 * r.limitA.insertsPerSec },
    { goal: 'scatter-gather list of 100: p99 <= 20 ms', measured: `${r.scatterGather.latency.p99} ms (${r.scatterGather.clients} clients), ${r.scatterGatherOneClient.latency.p99} ms (1 client)`, met: r.scatterGather.latency.p99 <= 20 },
    { goal: `after ${m.writesInRun} writes: Redis used_memory < 64 MB`, measured: `${m.redisUsedMemoryMb} MB`, met: m.redisUsedMemoryMb < 64 },
    { goal: 'gateway + workers peak RSS < 400 MB', measured: `${m.processes.gateway.peakRssMb} + ${m.processes.workers.peakRssMb} = ${Math.round(rss)} MB`, met: rss < 400 },
  ];
}

/** Prints the table, the ratio lines and the goals. */
export function printReport(r: BenchReport): void {
  const rows: Array<[string, string, string]> = [];
  const add = (what: string, value: string, note = '') => rows.push([what, value, note]);
  const a = r.limitA;
  const b = r.limitB;
  const c = r.essClosed;
  const o = r.essOpen;
  add('limit A: raw INSERT into db1', `${a.insertsPerSec}/s`, `${a.clients} clients, pool ${a.poolSize}, latency p50/p95/p99 ${lat(a.latency)} ms`);
  add('limit B: raw BullMQ (no-op worker)', `${b.processedPerSec}/s`, `added ${b.addedPerSec}/s, add p50/p95/p99 ${lat(b.addLatency)} ms`);
  add('ESS full speed: accepted', `${c.acceptedPerSec}/s`, `${c.accepted} writes, ${c.clients} clients, ${c.errors} errors`);
  add('ESS full speed: applied (primary)', `${c.appliedPerSec}/s`, '');
  add('ESS full speed: replicated (backup)', `${c.replicatedPerSec}/s`, `drained in ${(c.drainMs / 1000).toFixed(1)} s`);
  add('ESS full speed: request -> 202', `${lat(c.latency.to202)} ms`, 'p50 / p95 / p99');
  add('ESS full speed: request -> applied primary', `${lat(c.latency.toAppliedPrimary)} ms`, 'journal applied_at');
  add('ESS full speed: request -> applied backup', `${lat(c.latency.toAppliedBackup)} ms`, 'op-event after backup commit');
  const cpu = Object.entries(r.essClosedCpu ?? {}).sort((x, y) => y[1].cpuS - x[1].cpuS);
  const cpuTotal = cpu.reduce((n, [, v]) => n + v.msPerWrite, 0);
  add('ESS full speed: CPU per write', `${cpuTotal.toFixed(2)} ms`, cpu.map(([k, v]) => `${k} ${v.msPerWrite}`).join(', '));
  const rc = r.essClosedRedis;
  if (rc) {
    const top = Object.entries(rc.commands).slice(0, 5).map(([k, v]) => `${k} ${v.callsPerWrite}`).join(', ');
    add('ESS full speed: Redis commands per write', `${rc.perWrite}`, `server ${rc.usecPerWrite} µs per write; most costly: ${top}`);
  }
  add(`ESS ${o.offeredPerSec}/s offered: accepted`, `${o.acceptedPerSec}/s`, `${o.accepted} writes, ${o.errors} errors`);
  add(`ESS ${o.offeredPerSec}/s offered: replicated`, `${o.replicatedPerSec}/s`, `drained in ${(o.drainMs / 1000).toFixed(1)} s`);
  add(`ESS ${o.offeredPerSec}/s offered: -> 202`, `${lat(o.latency.to202)} ms`, 'from the scheduled send');
  add(`ESS ${o.offeredPerSec}/s offered: -> applied primary`, `${lat(o.latency.toAppliedPrimary)} ms`, '');
  add(`ESS ${o.offeredPerSec}/s offered: -> applied backup`, `${lat(o.latency.toAppliedBackup)} ms`, `journal: ${lat(o.latency.toAppliedBackupJournal)} ms`);
  add('import lcl_daily_block_0.csv', `${r.import.readingsPerSec} readings/s`, `${r.import.readings} readings + ${r.import.parents} parents, ${(r.import.wallMs / 1000).toFixed(1)} s until replicated`);
  add('batch fill (memory phase)', `${r.fill.writesPerSec}/s`, `${r.fill.writes} writes`);
  add('scatter-gather list of 100', `${r.scatterGather.latency.p50} / ${r.scatterGather.latency.p99} ms`, `p50 / p99, ${r.scatterGather.clients} clients, ${r.scatterGather.perSec}/s; 1 client: ${r.scatterGatherOneClient.latency.p50} / ${r.scatterGatherOneClient.latency.p99} ms`);
  add('Redis used_memory after the run', `${r.memory.redisUsedMemoryMb} MB`, `${r.memory.writesInRun} writes; ${r.memory.redisKeys} keys; reading catalog ${r.memory.readingCatalogEntries} entries ${r.memory.readingCatalogMb} MB, seq ${r.memory.readingSeqMb} MB`);
  add('peak RSS gateway / workers', `${r.memory.processes.gateway.peakRssMb} / ${r.memory.processes.workers.peakRssMb} MB`, 'VmHWM');
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  process.stdout.write(`\nESS benchmark, ${r.mode} run, ${r.startedAt}, ${r.machine.cpus} CPUs (${r.machine.cpuModel}), node ${r.versions['node']}, PostgreSQL ${r.versions['postgres']}, Redis ${r.versions['redis']}, BullMQ ${r.versions['bullmq']}\n\n`);
  for (const [x, y, z] of rows) process.stdout.write(`${x.padEnd(w0)}  ${y.padStart(w1)}  ${z}\n`);
  process.stdout.write(`\nratio ESS/limitA: ${ratio(c.replicatedPerSec, a.insertsPerSec)}\n`);
  process.stdout.write(`ratio ESS/limitB: ${ratio(c.replicatedPerSec, b.processedPerSec)}\n`);
  process.stdout.write(`ratio import/limitA: ${ratio(r.import.readingsPerSec, a.insertsPerSec)}\n`);
  process.stdout.write(`\ngoals (issue 6):\n`);
  for (const g of goals(r)) process.stdout.write(`  [${g.met ? 'met' : 'NOT met'}] ${g.goal}: ${g.measured}\n`);
  if (r.profile) {
    process.stdout.write(`\nworker profile (wall time per call, ms; cpu user ${Math.round(r.profile.cpuUsage.user / 1e3)} ms, system ${Math.round(r.profile.cpuUsage.system / 1e3)} ms over ${Math.round(r.profile.uptimeS)} s):\n`);
    const entries = Object.entries(r.profile.phases).sort((x, y) => y[1].totalMs - x[1].totalMs);
    const w = Math.max(...entries.map(([k]) => k.length));
    for (const [k, v] of entries) process.stdout.write(`  ${k.padEnd(w)}  n ${String(v.n).padStart(7)}  mean ${v.meanMs.toFixed(3).padStart(7)}  p50 ${v.p50Ms.toFixed(3).padStart(7)}  p99 ${v.p99Ms.toFixed(3).padStart(8)}\n`);
  }
}
