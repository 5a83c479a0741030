/**
 * `npm run bench [-- --quick] [--clients 16] [--data ../shared/data] [--profile] [--fresh] [--clean]`
 *
 * Measures ESS against the physical limits of the same machine in one run: starts its own cluster
 * (or uses DB1_URL..DB4_URL + REDIS_URL), spawns the gateway and the workers as `npm start` does,
 * runs every phase with the same number of concurrent clients, prints a table with the ratios and
 * writes the figures as JSON under `bench-results/`. Stops everything it started, also on failure
 * and on Ctrl-C. The bench cluster's data folder (`.ess-bench/`) is kept, stopped, so the next run
 * skips initdb (its data is emptied at start); `--fresh` re-creates it, `--clean` removes it at the end. Exit 0 when every phase ran (goals missed are reported, not failed), 1 otherwise.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { PROJECT_ROOT } from '../src/config/config.js';
import { BENCH_GATEWAY_PORT, BENCH_PORTS, BenchCluster } from './lib/bench-cluster.js';
import { HttpClient } from './lib/http-client.js';
import { OpTracker } from './lib/op-tracker.js';
import { closedLoop, openLoop, setupParents } from './phases/ess-writes.js';
import { fillReadings, importReadings, scatterGather } from './phases/import-reads.js';
import { limitA, limitB } from './phases/limits.js';
import { printReport, type BenchReport } from './report.js';
import { readProfile } from './profile-read.js';
import { cpuDelta, cpuSeconds, redisCommandsPerWrite } from './lib/cpu-meter.js';
import { summarizeCpuProfiles } from './cpu-profile-summary.js';
import type { EssWriteResult } from './phases/ess-writes.js';

const say = (line: string) => process.stdout.write(`[bench] ${line}\n`);

interface Plan {
  readonly limitMs: number;
  readonly closedMs: number;
  readonly openMs: number;
  readonly openRate: number;
  readonly readMs: number;
  /** Writes of the whole run before memory is read (the fill makes up the rest). */
  readonly memoryWrites: number;
  readonly importLimit: number | undefined;
  readonly drainTimeoutMs: number;
}

const FULL: Plan = { limitMs: 15_000, closedMs: 15_000, openMs: 20_000, openRate: 1000, readMs: 10_000, memoryWrites: 100_000, importLimit: undefined, drainTimeoutMs: 600_000 };
const QUICK: Plan = { limitMs: 3_000, closedMs: 3_000, openMs: 2_000, openRate: 1000, readMs: 2_000, memoryWrites: 8_000, importLimit: 2_000, drainTimeoutMs: 120_000 };

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** `--profile`: the worker's phase timers and both processes' CPU profiles after a closed-loop run. */
async function profileReport(profileFile: string, cpuProfDir: string, closed: EssWriteResult): Promise<void> {
  const profile = await readProfile(profileFile);
  // One file per thread (tsx's loader runs in its own); the main thread is the busiest.
  const cpu = (await Promise.all(['gateway', 'workers'].map(async (p) => (await summarizeCpuProfiles(path.join(cpuProfDir, p))).sort((a, b) => b.busyMs - a.busyMs)[0]))).filter((c) => c !== undefined);
  const out = { closed, workerPhases: profile, cpu };
  const outDir = path.join(PROJECT_ROOT, 'bench-results');
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, `profile-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\nclosed loop: ${closed.accepted} writes, accepted ${closed.acceptedPerSec}/s, applied ${closed.appliedPerSec}/s, replicated ${closed.replicatedPerSec}/s, ->202 p50 ${closed.latency.to202.p50} ms\n`);
  if (profile) {
    process.stdout.write(`\nworker phases (wall ms per call; cpu user ${Math.round(profile.cpuUsage.user / 1e3)} ms, system ${Math.round(profile.cpuUsage.system / 1e3)} ms over ${Math.round(profile.uptimeS)} s):\n`);
    const entries = Object.entries(profile.phases).sort((x, y) => y[1].totalMs - x[1].totalMs);
    const w = Math.max(...entries.map(([k]) => k.length));
    for (const [k, v] of entries) process.stdout.write(`  ${k.padEnd(w)}  n ${String(v.n).padStart(7)}  mean ${v.meanMs.toFixed(3).padStart(8)}  p50 ${v.p50Ms.toFixed(3).padStart(8)}  p99 ${v.p99Ms.toFixed(3).padStart(9)}\n`);
  }
  for (const c of cpu) {
    process.stdout.write(`\nCPU ${path.basename(path.dirname(c.file))} (${path.basename(c.file)}): busy ${c.busyMs} ms of ${c.wallMs} ms\n  by area:\n`);
    for (const a of c.byArea) process.stdout.write(`    ${String(a.pct).padStart(5)}%  ${String(a.ms).padStart(6)} ms  ${a.name}\n`);
    process.stdout.write('  top functions (self):\n');
    for (const a of c.topFunctions) process.stdout.write(`    ${String(a.pct).padStart(5)}%  ${String(a.ms).padStart(6)} ms  ${a.name}\n`);
  }
  process.stdout.write(`\nprofile written to ${path.relative(process.cwd(), file)}\n`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      clients: { type: 'string', default: '16' },
      data: { type: 'string' },
      profile: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      clean: { type: 'boolean', default: false },
      home: { type: 'string' },
    },
    strict: true,
  });
  const clients = Number(values.clients);
  if (!Number.isInteger(clients) || clients < 1 || clients > 256) throw new Error('--clients must be a whole number 1..256');
  const plan = values.quick ? QUICK : FULL;
  const dataDir = path.resolve(values.data ?? process.env['ESS_DATA_DIR'] ?? path.join(PROJECT_ROOT, '..', 'shared', 'data'));
  const home = path.resolve(values.home ?? path.join(PROJECT_ROOT, '.ess-bench'));
  const profileFile = path.join(home, 'profile.json');
  const cpuProfDir = path.join(home, 'cpu-prof');
  const cluster = new BenchCluster({
    home,
    ports: BENCH_PORTS,
    gatewayPort: BENCH_GATEWAY_PORT,
    log: say,
    fresh: values.fresh,
    workerNodeArgs: values.profile ? ['--import', path.join(PROJECT_ROOT, 'bench', 'profile-hooks.ts'), '--cpu-prof', `--cpu-prof-dir=${path.join(cpuProfDir, 'workers')}`] : [],
    gatewayNodeArgs: values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProfDir, 'gateway')}`] : [],
    extraEnv: values.profile ? { ESS_BENCH_PROFILE_FILE: profileFile } : {},
  });
  let tracker: OpTracker | undefined;
  let http: HttpClient | undefined;
  let stopped = false;
  const cleanup = async () => {
    if (stopped) return;
    stopped = true;
    http?.close();
    await tracker?.close().catch(() => undefined);
    say('stopping the gateway, the workers and the bench cluster');
    await cluster.stop();
    if (values.clean) await cluster.removeData().catch(() => undefined);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      say(`${sig}: stopping everything this run started`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const started = new Date();
  const t0 = Date.now();
  const phase = (name: string) => {
    cluster.assertAlive();
    say(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${name}`);
  };
  try {
    phase(`starting (clients ${clients}, ${values.quick ? 'quick' : 'full'} run${values.profile ? ', profiling the workers' : ''})`);
    await cluster.start();
    const config = cluster.config;
    tracker = new OpTracker(config);
    await tracker.start();
    http = new HttpClient(cluster.baseUrl, clients);
    const tag = `b${Date.now().toString(36)}`;
    let writes = 0;

    if (values.profile) await rm(cpuProfDir, { recursive: true, force: true });
    phase('setup: branches, customers and contracts in every region and partition');
    const parents = await setupParents(http, tracker, tag, 4, 10);
    writes += parents.opIds.length;

    if (values.profile) {
      phase(`profile: ESS closed loop only, ${clients} clients for ${plan.closedMs / 1000} s, workers instrumented`);
      tracker.reset();
      const closed = await closedLoop(http, tracker, parents, `${tag}c`, clients, plan.closedMs, plan.drainTimeoutMs);
      await cluster.stop();
      await profileReport(profileFile, cpuProfDir, closed);
      return 0;
    }
    phase(`limit A: single-row autocommit INSERTs into db1, ${clients} clients, pool ${config.db.poolSize}`);
    const a = await limitA(config, parents.contracts.find((c) => c.region === 'TP1')!.id, clients, plan.limitMs);
    phase(`limit B: no-op BullMQ jobs, ${clients} clients`);
    const samplePayload = { opId: 'TP1-00000000-0000-0000-0000-000000000000', region: 'TP1', entity: 'meterReading', key: 'x'.repeat(24), action: 'create', seq: 1, branchId: 'x'.repeat(16), values: { id: 'x'.repeat(24), contract_id: 'x'.repeat(20), read_on: '2024-01-01', kwh: '12.345', meter_index: null, half_hours: 48, region: 'TP1' }, acceptedAt: new Date().toISOString() };
    say(`  limit A: ${a.insertsPerSec} inserts/s, p50/p99 ${a.latency.p50}/${a.latency.p99} ms`);
    const b = await limitB(config, clients, plan.limitMs, samplePayload, say);
    say(`  limit B: ${b.processedPerSec} jobs/s processed, ${b.addedPerSec}/s added`);

    phase(`ESS closed loop: ${clients} clients for ${plan.closedMs / 1000} s, then drain`);
    tracker.reset();
    const pids = cluster.pids();
    const pgSites = new Set(['db1', 'db2', 'db3', 'db4']);
    const cpuBefore = cpuSeconds(pids, pgSites);
    const stats = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
    stats.on('error', () => undefined);
    // Redis commands per write in the closed loop (own cluster only: RESETSTAT clears a server's counters).
    if (!cluster.external) await stats.config('RESETSTAT');
    const closed = await closedLoop(http, tracker, parents, `${tag}c`, clients, plan.closedMs, plan.drainTimeoutMs);
    const closedCpu = cpuDelta(cpuBefore, cpuSeconds(pids, pgSites), closed.accepted);
    const closedRedis = cluster.external ? undefined : redisCommandsPerWrite(await stats.info('commandstats'), closed.accepted);
    stats.disconnect();
    writes += closed.accepted;
    say(`  closed: accepted ${closed.acceptedPerSec}/s, applied ${closed.appliedPerSec}/s, replicated ${closed.replicatedPerSec}/s, ->backup p99 ${closed.latency.toAppliedBackup.p99} ms, errors ${closed.errors}${closed.firstError ? ` (${closed.firstError})` : ''}`);
    phase(`ESS open loop: ${plan.openRate} writes/s offered for ${plan.openMs / 1000} s, then drain`);
    tracker.reset();
    const open = await openLoop(http, tracker, parents, `${tag}o`, clients, plan.openRate, plan.openMs, plan.drainTimeoutMs);
    writes += open.accepted;
    say(`  open: ->202 p99 ${open.latency.to202.p99} ms, ->backup p50/p99 ${open.latency.toAppliedBackup.p50}/${open.latency.toAppliedBackup.p99} ms, replicated ${open.replicatedPerSec}/s, errors ${open.errors}${open.firstError ? ` (${open.firstError})` : ''}`);

    phase(`import of lcl_daily_block_0.csv${plan.importLimit ? ` (first ${plan.importLimit} readings)` : ''} through the batch API`);
    tracker.reset();
    const imp = await importReadings(http, tracker, dataDir, `${tag}i`, plan.drainTimeoutMs, plan.importLimit);
    writes += imp.readings + imp.parents - imp.refused;
    say(`  import: ${imp.readings} readings in ${(imp.wallMs / 1000).toFixed(1)} s until replicated = ${imp.readingsPerSec}/s, refused ${imp.refused}${imp.firstRefusal ? ` (${imp.firstRefusal})` : ''}`);

    const fillCount = Math.max(0, plan.memoryWrites - writes);
    phase(`memory: ${fillCount} more writes through the batch API (run total ${writes + fillCount})`);
    tracker.reset();
    const fill = await fillReadings(http, tracker, parents, `${tag}f`, fillCount, plan.drainTimeoutMs);
    writes += fill.writes;
    say(`  fill: ${fill.writesPerSec}/s, refused ${fill.refused}${fill.firstRefusal ? ` (${fill.firstRefusal})` : ''}`);

    phase(`scatter-gather read: ${clients} clients, then 1 client`);
    const reads = await scatterGather(http, clients, plan.readMs);
    const reads1 = await scatterGather(http, 1, Math.max(1000, plan.readMs / 3));

    phase('memory readings');
    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    const info = await redis.info();
    const field = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
    const catalogKey = `${config.prefix}:catalog:meterReading`;
    const seqKey = `${config.prefix}:seq:meterReading`;
    const [dbsize, catalogBytes, seqBytes, catalogLen] = await Promise.all([
      redis.dbsize(),
      redis.memory('USAGE', catalogKey).catch(() => null),
      redis.memory('USAGE', seqKey).catch(() => null),
      redis.hlen(catalogKey),
    ]);
    redis.disconnect();
    const processMemory = cluster.memory();
    const pgVersion = a.pgSettings['server_version'] ?? 'unknown';

    const report: BenchReport = {
      startedAt: started.toISOString(),
      durationS: Math.round((Date.now() - t0) / 1000),
      mode: values.quick ? 'quick' : 'full',
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memMb: Math.round(os.totalmem() / 1048576), loadAvgAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
      versions: { node: process.version, postgres: pgVersion, redis: field('redis_version'), bullmq: version('bullmq'), pg: version('pg'), ioredis: version('ioredis') },
      settings: {
        clients,
        external: cluster.external,
        poolSize: config.db.poolSize,
        partitionsPerRegion: config.partitions,
        pg: a.pgSettings,
        redis: { appendonly: 'yes', appendfsync: 'everysec', maxmemoryPolicy: 'noeviction' },
        plan,
      },
      limitA: a,
      limitB: b,
      essClosed: closed,
      essClosedCpu: closedCpu,
      essClosedRedis: closedRedis,
      essOpen: open,
      import: imp,
      fill,
      scatterGather: reads,
      scatterGatherOneClient: reads1,
      memory: {
        writesInRun: writes,
        redisUsedMemoryMb: Math.round(Number(field('used_memory')) / 104857.6) / 10,
        redisUsedMemoryPeakMb: Math.round(Number(field('used_memory_peak')) / 104857.6) / 10,
        redisKeys: dbsize,
        readingCatalogEntries: catalogLen,
        readingCatalogMb: catalogBytes === null ? null : Math.round(Number(catalogBytes) / 104857.6) / 10,
        readingSeqMb: seqBytes === null ? null : Math.round(Number(seqBytes) / 104857.6) / 10,
        processes: processMemory,
      },
      profile: undefined,
    };
    await cluster.stop();
    if (values.profile) report.profile = await readProfile(profileFile);
    const outDir = path.join(PROJECT_ROOT, 'bench-results');
    await mkdir(outDir, { recursive: true });
    const file = path.join(outDir, `bench-${started.toISOString().replace(/[:.]/g, '-')}${values.quick ? '-quick' : ''}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    printReport(report);
    process.stdout.write(`\nfigures written to ${path.relative(process.cwd(), file) || file}\n`);
    const lost = closed.notReplicated + open.notReplicated + imp.notReplicated + fill.notReplicated;
    const refused = closed.errors + open.errors + imp.refused + fill.refused;
    if (lost || refused) say(`WARNING: ${lost} accepted writes not replicated, ${refused} writes refused or failed`);
    return lost === 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`[bench] failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
