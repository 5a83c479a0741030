/**
 * The physical limits the ESS figures are compared with, on the same machine in the same run:
 * limit A (raw database) and limit B (raw queue).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { JOB_OPTIONS } from '../../queues/catalog.js';
import { PROJECT_ROOT, type Config } from '../../src/config/config.js';
import { nowMs, perSecond, summarize, type LatencySummary } from '../lib/stats.js';

/** Figures of limit A. */
export interface LimitAResult {
  readonly site: string;
  readonly clients: number;
  readonly poolSize: number;
  readonly inserts: number;
  readonly durationMs: number;
  readonly insertsPerSec: number;
  readonly latency: LatencySummary;
  readonly pgSettings: Record<string, string>;
}

/**
 * Limit A: `clients` loops of single-row autocommit INSERTs into `meter_reading` of one site
 * through a `pg` pool of the workers' size, for `durationMs`. The rows are deleted afterwards
 * (the site must stay equal to its backup).
 */
export async function limitA(config: Config, contractId: string, clients: number, durationMs: number): Promise<LimitAResult> {
  const pool = new pg.Pool({
    connectionString: config.siteUrls.db1,
    max: config.db.poolSize,
    connectionTimeoutMillis: config.db.connectTimeoutMs,
    statement_timeout: config.db.statementTimeoutMs,
  });
  pool.on('error', () => undefined);
  const tag = `LA${Date.now().toString(36)}`;
  try {
    const settings = await pool.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit','wal_sync_method','shared_buffers','commit_delay','full_page_writes','server_version')`,
    );
    const pgSettings = Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]));
    const lat: number[] = [];
    let n = 0;
    const t0 = nowMs();
    const end = t0 + durationMs;
    const loop = async () => {
      while (nowMs() < end) {
        const i = n++;
        const s = nowMs();
        await pool.query(
          `INSERT INTO meter_reading (id, contract_id, read_on, kwh, meter_index, half_hours, region) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [`${tag}-${i}`, contractId, '2024-01-01', '12.345', null, 48, 'TP1'],
        );
        lat.push(nowMs() - s);
      }
    };
    await Promise.all(Array.from({ length: clients }, loop));
    const ms = nowMs() - t0;
    await pool.query(`DELETE FROM meter_reading WHERE id LIKE $1`, [`${tag}-%`]);
    return { site: 'db1', clients, poolSize: config.db.poolSize, inserts: lat.length, durationMs: Math.round(ms), insertsPerSec: perSecond(lat.length, ms), latency: summarize(lat), pgSettings };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Figures of limit B. */
export interface LimitBResult {
  readonly clients: number;
  readonly workerConcurrency: number;
  readonly jobs: number;
  readonly addedPerSec: number;
  readonly processedPerSec: number;
  readonly addLatency: LatencySummary;
}

/**
 * Limit B: `clients` loops adding BullMQ jobs (a payload the size of a write op, the apply job's
 * options) to one queue for `durationMs`; a no-op worker in its own process (concurrency
 * `clients`) takes them. processed/s runs from the first add to the queue's drain.
 */
export async function limitB(config: Config, clients: number, durationMs: number, payload: unknown, log: (l: string) => void): Promise<LimitBResult> {
  const prefix = `${config.prefix}-limitb`;
  const name = 'noop';
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null, connectionName: 'ess-bench-limitb' });
  connection.on('error', () => undefined);
  const queue = new Queue(name, { connection, prefix, defaultJobOptions: JOB_OPTIONS.apply });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'bench', 'noop-worker.ts')], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, REDIS_URL: config.redisUrl, BENCH_QUEUE: name, BENCH_PREFIX: prefix, BENCH_CONCURRENCY: String(clients) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`limit B worker not ready in 30 s: ${stderr}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && (clearTimeout(t), resolve()));
      child.once('exit', (code) => (clearTimeout(t), reject(new Error(`limit B worker exited (${code}): ${stderr}`))));
    });
    const lat: number[] = [];
    let n = 0;
    const t0 = nowMs();
    const end = t0 + durationMs;
    const loop = async () => {
      while (nowMs() < end) {
        const i = n++;
        const s = nowMs();
        await queue.add('noop', payload, { jobId: `b-${i}` });
        lat.push(nowMs() - s);
      }
    };
    await Promise.all(Array.from({ length: clients }, loop));
    const addedMs = nowMs() - t0;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(c).every((v) => v === 0)) break;
      if (Date.now() > deadline) throw new Error(`limit B: queue not drained in 120 s (${JSON.stringify(c)})`);
      await sleep(20);
    }
    const drainedMs = nowMs() - t0;
    log(`limit B: ${lat.length} jobs added in ${Math.round(addedMs)} ms, processed in ${Math.round(drainedMs)} ms`);
    return { clients, workerConcurrency: clients, jobs: lat.length, addedPerSec: perSecond(lat.length, addedMs), processedPerSec: perSecond(lat.length, drainedMs), addLatency: summarize(lat) };
  } finally {
    child.kill('SIGTERM');
    await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
}
