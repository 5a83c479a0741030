/**
 * Done when (issue 4): write load on TP1 through the real gateway and workers; back up db1 at T;
 * keep writing; restore db1 from the dump; recover db1 from T with apply: the statements applied
 * equal the TP1 ops logged after T, db1 equals its replica (verify), and a second run of the
 * script changes nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { PROJECT_ROOT } from '../../src/config/config.js';
import { findPgTool } from '../../src/recovery/backup.js';
import type { RecoveryResult } from '../../src/recovery/run-recovery.js';
import { verifyCluster, waitForDrain } from '../../src/verify/verify.js';
import { createTestEnv, jsonRequest, type TestEnv } from '../support/test-env.js';

const run = promisify(execFile);
let env: TestEnv;
let gw: Gateway;
let work: string;

async function call(p: string, init?: RequestInit): Promise<{ status: number; body: Record<string, any> }> {
  const res = await gw.app.request(p, init);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function expectAccepted(p: string, init: RequestInit): Promise<void> {
  const { status, body } = await call(p, init);
  expect(status, JSON.stringify(body)).toBeLessThan(300);
}

/** One round of TP1 writes (creates, updates, a delete) plus TP2 noise that db1 must not get. */
async function load(round: number): Promise<void> {
  const b = `B${round}`;
  await expectAccepted('/api/branches', jsonRequest('POST', { id: b, name: `Chi nhánh ${round} 'Hà Nội'`, region: 'TP1' }));
  await expectAccepted('/api/branches', jsonRequest('POST', { id: `X${round}`, name: `TP2 ${round}`, region: 'TP2' }));
  for (let c = 1; c <= 5; c++) {
    const cust = `C${round}-${c}`;
    await expectAccepted('/api/customers', jsonRequest('POST', { id: cust, name: `Khách ${c}`, branchId: b }));
    await expectAccepted('/api/contracts', jsonRequest('POST', { id: `K${round}-${c}`, customerId: cust, signedOn: '2025-01-15', meterSerial: `M-${round}-${c}`, kwhQuota: 150.5, unitPrice: 1984 }));
    for (let r = 1; r <= 3; r++) {
      await expectAccepted('/api/meter-readings', jsonRequest('POST', { id: `R${round}-${c}-${r}`, contractId: `K${round}-${c}`, readOn: `2025-0${r}-28`, kwh: 100 + r + c / 1000 }));
    }
  }
  // Updates of rows from this round and the previous one, and a delete.
  await expectAccepted(`/api/customers/C${round}-1`, jsonRequest('PATCH', { name: `Khách đổi tên ${round}` }));
  if (round > 1) {
    await expectAccepted(`/api/customers/C${round - 1}-2`, jsonRequest('PATCH', { name: `Khách cũ đổi tên ${round}`, phone: '0901 234 567' }));
    await expectAccepted(`/api/meter-readings/R${round - 1}-3-3`, { method: 'DELETE' });
  }
}

/** TP1 ops logged at or after `since`, distinct op ids, read straight from the log files. */
async function tp1OpsLoggedSince(since: Date): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const f of (await readdir(env.logDir)).filter((n) => n.startsWith('TP1-'))) {
    for (const line of (await readFile(path.join(env.logDir, f), 'utf8')).split('\n').filter(Boolean)) {
      const o = JSON.parse(line);
      if ((o.msg === 'write.applied' || o.msg === 'replica.applied') && new Date(o.time) >= since) ids.add(o.opId);
    }
  }
  return ids;
}

/** Runs `npm run recover -- <args>` (the CLI) against this test's sites and Redis. */
async function recoverCli(args: string[]): Promise<{ code: number; stdout: string }> {
  return run('npx', ['tsx', 'src/cli/recover.ts', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env.env }, maxBuffer: 16 << 20 }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: `${e.stdout}\n${e.stderr}` }),
  );
}

beforeAll(async () => {
  env = await createTestEnv();
  gw = await env.gateway();
  await env.workers();
  work = await mkdtemp(path.join(os.tmpdir(), 'ess-rec-scenario-'));
});
afterAll(async () => {
  await env?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('recovery of db1 restored from an outdated backup', () => {
  let since: Date;
  let dump: string;
  let result: { report: RecoveryResult['report'] };

  it('loads, backs up at T, keeps writing, restores the old dump', async () => {
    await load(1);
    expect(await waitForDrain(gw.deps.queues, 60_000)).toBe(0);
    // `npm run backup -- db1` (the CLI): a dump and a sidecar with the instant it represents.
    const b = await run('npx', ['tsx', 'src/cli/backup.ts', 'db1', '--out', path.join(work, 'backups')], { cwd: PROJECT_ROOT, env: { ...process.env, ...env.env } });
    dump = /dump: +(\S+)/.exec(b.stdout)![1]!;
    const info = JSON.parse(await readFile(`${dump}.json`, 'utf8')) as { instant: string };
    since = new Date(info.instant);
    expect(JSON.parse(await readFile(`${dump}.json`, 'utf8'))).toMatchObject({ site: 'db1', instant: info.instant, format: 'pg_dump-custom' });
    await load(2);
    await load(3);
    expect(await waitForDrain(gw.deps.queues, 60_000)).toBe(0);
    expect((await verifyCluster(env.stores, gw.deps.queues)).result).toBe('equal');
    // Destroy db1's data and restore the dump taken at T (resync does not exist yet; nothing else writes to db1 now).
    await run(findPgTool('pg_restore'), ['--clean', '--if-exists', '--single-transaction', '--no-owner', `--dbname=${env.config.siteUrls.db1}`, dump]);
    const after = await verifyCluster(env.stores, gw.deps.queues, { regions: ['TP1'] });
    expect(after.result).toBe('different');
    expect(await env.sql('db1', `SELECT count(*)::int AS n FROM branch`)).toEqual([{ n: 1 }]);
  });

  it('recovers db1 from T with apply: one statement per TP1 op logged after T, then db1 equals its replica', async () => {
    const logged = await tp1OpsLoggedSince(since);
    expect(logged.size).toBe(2 * (1 + 5 * 5 + 3)); // per round: branch, 5 × (customer, contract, 3 readings), 3 updates/delete
    // The way an operator runs it: the CLI enqueues the recovery job, this test's worker takes it.
    const cli = await recoverCli(['db1', '--since', since.toISOString(), '--log-dir', env.logDir, '--no-ai', '--apply', '--out', path.join(work, 'out')]);
    expect(cli.code, cli.stdout).toBe(0);
    expect(cli.stdout).toContain('verify: equal');
    result = { report: JSON.parse(await readFile(/report: (\S+)/.exec(cli.stdout)![1]!, 'utf8')) };
    const { report } = result;
    expect(report.statements).toBe(logged.size);
    expect(report.apply).toMatchObject({ statementsApplied: logged.size });
    expect(report.counts['needs-review'] + report.counts.refused + report.counts.unparseable).toBe(0);
    // Each op was logged twice (write.applied on db1, replica.applied on db4): the second is a duplicate.
    expect(report.counts.converted).toBe(logged.size);
    expect(report.counts.ignored).toBe(logged.size);
    expect(report.verify).toEqual({ result: 'equal', problems: [], differing: [] });
    expect((await verifyCluster(env.stores, gw.deps.queues)).result).toBe('equal');
    // The journal and the sequence gate came back too: the ops of after T are journaled on db1.
    const journaled = await env.stores.db1.journalEntries([...logged]);
    expect(journaled).toHaveLength(logged.size);
    expect(await env.sql('db1', `SELECT name, phone FROM customer WHERE id = 'C2-2'`)).toEqual([{ name: 'Khách cũ đổi tên 3', phone: '0901 234 567' }]);
    expect(await env.sql('db1', `SELECT id FROM meter_reading WHERE id IN ('R1-3-3', 'R2-3-3')`)).toEqual([]);
  });

  it('applying the script again changes nothing (through the store, and the .sql file through psql)', async () => {
    const before = await Promise.all(['branch', 'customer', 'contract', 'meter_reading'].map((t) => env.stores.db1.tableDigest(t, 'TP1')));
    const journal = await env.stores.db1.journalCount();
    const cli = await recoverCli(['db1', '--since', since.toISOString(), '--log-dir', env.logDir, '--no-ai', '--apply', '--out', path.join(work, 'again')]);
    expect(cli.code, cli.stdout).toBe(0);
    const again = JSON.parse(await readFile(/report: (\S+)/.exec(cli.stdout)![1]!, 'utf8'));
    expect(again.apply).toMatchObject({ statementsApplied: result.report.statements, rowsChanged: 0 });
    const { stdout } = await run(findPgTool('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', env.config.siteUrls.db1, '-f', result.report.scriptPath]);
    expect(stdout).toBe('');
    const after = await Promise.all(['branch', 'customer', 'contract', 'meter_reading'].map((t) => env.stores.db1.tableDigest(t, 'TP1')));
    expect(after).toEqual(before);
    expect(await env.stores.db1.journalCount()).toBe(journal);
    expect((await verifyCluster(env.stores, gw.deps.queues)).result).toBe('equal');
  });

  it('the site keeps working after recovery: a new write to a recovered row applies on both copies', async () => {
    await expectAccepted('/api/customers/C3-5', jsonRequest('PATCH', { name: 'sau phục hồi' }));
    expect(await waitForDrain(gw.deps.queues, 30_000)).toBe(0);
    expect(await env.sql('db1', `SELECT name FROM customer WHERE id = 'C3-5'`)).toEqual([{ name: 'sau phục hồi' }]);
    expect((await verifyCluster(env.stores, gw.deps.queues)).result).toBe('equal');
  });
});
