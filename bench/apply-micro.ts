/**
 * `npx tsx bench/apply-micro.ts [--seconds 10] [--clients 8]`: the apply step alone on one
 * durable PostgreSQL server (its own, port 58441, under `.ess-bench-micro/`): the site store's
 * `applyOp` of a create (the prepared statement of `src/db/postgres/batch-statement.ts`, one op),
 * `applyBatch` of 8 creates (a group commit), and a bare INSERT (limit A's statement). Checks the
 * guarantees (duplicate, superseded, missing parent) first.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { LocalCluster } from '../src/cluster/local-cluster.js';
import { PROJECT_ROOT } from '../src/config/config.js';
import type { WriteOp } from '../src/domain/write-op.js';
import { PostgresSiteStore } from '../src/db/postgres/postgres-site-store.js';
import { nowMs, perSecond, summarize } from './lib/stats.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, clients: { type: 'string', default: '8' } } });
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const cluster = new LocalCluster({ home: path.join(PROJECT_ROOT, '.ess-bench-micro'), ports: { db1: 58441, db2: 58442, db3: 58443, db4: 58444, redis: 58449 }, durable: true });

function op(key: string, seq = 1, contractId = 'HD-1'): WriteOp {
  return {
    opId: `TP1-${randomUUID()}`,
    region: 'TP1',
    entity: 'meterReading',
    key,
    action: 'create',
    seq,
    branchId: 'B1',
    values: { id: key, contract_id: contractId, read_on: '2024-01-01', kwh: '12.345', meter_index: null, half_hours: 48, region: 'TP1' },
    acceptedAt: new Date().toISOString(),
  } as WriteOp;
}

async function main(): Promise<void> {
  await import('node:fs/promises').then((fs) => fs.mkdir(cluster.home, { recursive: true }).then(() => fs.writeFile(path.join(cluster.home, '.gitignore'), '*\n')));
  await cluster.startSite('db1');
  const url = cluster.siteUrl('db1');
  const admin = new pg.Client({ connectionString: cluster.siteUrl('db1', 'postgres') });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS ess WITH (FORCE)');
  await admin.query('CREATE DATABASE ess');
  await admin.end();
  const store = new PostgresSiteStore({ site: 'db1', url, poolSize: 8, connectTimeoutMs: 2000, statementTimeoutMs: 10000 });
  await store.migrate();
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  pool.on('error', () => undefined);
  try {
    await pool.query(`INSERT INTO branch VALUES ('B1', 'b', 'TP1'); INSERT INTO customer (id, name, branch_id, region) VALUES ('KH-1', 'c', 'B1', 'TP1');
      INSERT INTO contract (id, customer_id, signed_on, meter_serial, region) VALUES ('HD-1', 'KH-1', '2024-01-01', 'M1', 'TP1')`);
    // Guarantees of the apply step.
    const o = op('CHECK-1', 5);
    const r1 = await store.applyOp(o, 1);
    const r2 = await store.applyOp(o, 1);
    const r3 = await store.applyOp(op('CHECK-1', 3), 1);
    const journalOld = (await pool.query(`SELECT count(*)::int AS n FROM op_journal WHERE entity_key = 'CHECK-1'`)).rows[0].n;
    const parent = await store.applyOp(op('CHECK-2', 1, 'HD-missing'), 1).then(() => 'no error', (e: { code?: string }) => `error ${e.code}`);
    const leftover = (await pool.query(`SELECT count(*)::int AS n FROM op_journal WHERE entity_key = 'CHECK-2'`)).rows[0].n;
    process.stdout.write(
      `checks: first apply ${r1.outcome} kwh=${r1.dbRow?.['kwh']}; again duplicate=${r2.duplicate}; ` +
        `older seq: ${r3.outcome}, journal rows ${journalOld}; missing parent: ${parent}, journal rows left ${leftover}\n`,
    );

    const run = async (label: string, fn: (i: number) => Promise<unknown>) => {
      const lat: number[] = [];
      let n = 0;
      const t0 = nowMs();
      const end = t0 + seconds * 1000;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (nowMs() < end) {
            const i = n++;
            const s = nowMs();
            await fn(i);
            lat.push(nowMs() - s);
          }
        }),
      );
      const l = summarize(lat);
      process.stdout.write(`${label.padEnd(44)} ${String(perSecond(lat.length, nowMs() - t0)).padStart(6)}/s  p50 ${l.p50} ms  p99 ${l.p99} ms\n`);
    };
    const tag = Date.now().toString(36);
    await run('bare INSERT (limit A)', (i) => pool.query(`INSERT INTO meter_reading (id, contract_id, read_on, kwh, meter_index, half_hours, region) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [`A${tag}-${i}`, 'HD-1', '2024-01-01', '12.345', null, 48, 'TP1']));
    await run('site store applyOp (one prepared statement)', (i) => store.applyOp(op(`T${tag}-${i}`), 1));
    await run('site store applyBatch, calls of 8 ops', async (i) => {
      const group = Array.from({ length: 8 }, (_, k) => op(`G${tag}-${i}-${k}`));
      await store.applyBatch(group.map((g) => ({ op: g, epoch: 1, change: { row: g.values, superseded: false } })));
    });
  } finally {
    await pool.end();
    await store.close();
    await cluster.stopSite('db1');
  }
}

main().catch(async (err) => {
  process.stderr.write(`apply-micro failed: ${(err as Error).stack ?? err}\n`);
  await cluster.stopSite('db1').catch(() => undefined);
  process.exit(1);
});
