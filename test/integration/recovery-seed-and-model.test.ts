/**
 * `npm run recover` end to end on the original project's real logs (issue 4's Done when), and the
 * scripted wrong model answers applied to a real site: none of them reaches it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/config.js';
import type { RecoveryReport } from '../../src/recovery/recovery-report.js';
import { runRecovery } from '../../src/recovery/run-recovery.js';
import { PAID_ENTRY, RIGHT_ANSWER, startFakeOllama, WRONG_ANSWERS, type FakeAnswer, type FakeOllama } from '../support/fake-ollama.js';
import { createTestEnv, type TestEnv } from '../support/test-env.js';

const run = promisify(execFile);
const SEED_LOGS = path.join(PROJECT_ROOT, '..', 'shared', 'data', 'seed-logs');
const HAVE_SEED = existsSync(SEED_LOGS);
if (!HAVE_SEED && process.env['CI']) throw new Error(`${SEED_LOGS} is missing: CI must have ../shared/data beside the repo`);

let env: TestEnv;
let work: string;
beforeAll(async () => {
  env = await createTestEnv();
  work = await mkdtemp(path.join(os.tmpdir(), 'ess-rec-seed-'));
});
afterAll(async () => {
  await env?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function recoverCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [path.join(PROJECT_ROOT, 'src', 'cli', 'recover.ts'), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env.env, LOG_LEVEL: 'silent' },
      timeout: 90_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(!HAVE_SEED)(`npm run recover on the original project's logs${HAVE_SEED ? '' : ` — SKIPPED: ${SEED_LOGS} not found (it lives beside the repo in ../shared/data)`}`, () => {
  it('TP2 2025-11-18 00:00:00 --no-ai --apply on an empty TP2 site: exactly one branch CN9, the tuition lines refused', async () => {
    const out = path.join(work, 'seed');
    const args = ['TP2', '2025-11-18', '00:00:00', '--log-dir', SEED_LOGS, '--no-ai', '--apply', '--out', out, '--worker-wait-ms', '300'];
    const first = await recoverCli(args);
    // No worker runs in this test: the command takes its own job after 300 ms.
    expect(first.stdout).toContain('no worker took the job within 300 ms; running it here');
    expect(first.stdout).toMatch(/recover: 3 statement\(s\); entries: converted 3, converted-by-model 0, needs-review 0, refused 2, ignored 0, unparseable 0/);
    expect(first.stdout).toContain('apply:  3 statement(s) applied, 1 row(s) changed');
    // db4 (the replica) never got CN9 (the logs are the original project's): verify says so, exit 1.
    expect(first.stdout).toContain('verify: different');
    expect(first.code).toBe(1);
    expect(await env.sql('db2', `SELECT id, name, region FROM branch`)).toEqual([{ id: 'CN9', name: 'chi Nhanh 9', region: 'TP2' }]);
    const reportPath = /report: (.+\.report\.json)/.exec(first.stdout)![1]!;
    const report = JSON.parse(await readFile(reportPath, 'utf8')) as RecoveryReport;
    expect(report.since).toBe('2025-11-17T17:00:00.000Z');
    expect(report.entries.map((e) => [e.origin, e.status])).toEqual([
      ['TP2-2025-11-18.log:1', 'refused'],
      ['TP2-2025-11-20.log:1', 'refused'],
      ['TP2-2025-11-27.log:1', 'converted'],
      ['TP2-2025-11-28.log:1', 'converted'],
      ['TP2-2025-12-04.log:1', 'converted'],
    ]);
    for (const e of report.entries.slice(0, 2)) expect(e.reason).toBe('about tuition (học phí), which the electricity schema does not hold');
    const script = await readFile(report.scriptPath, 'utf8');
    expect(script.match(/INSERT INTO branch/g)).toHaveLength(3);
    expect(script).not.toMatch(/5000000|TRANS_999/);

    // Once more: the same three statements run and change nothing.
    const second = await recoverCli(args);
    expect(second.stdout).toContain('apply:  3 statement(s) applied, 0 row(s) changed');
    expect(await env.sql('db2', `SELECT id, name, region FROM branch`)).toEqual([{ id: 'CN9', name: 'chi Nhanh 9', region: 'TP2' }]);
  });

  it('TP1 and TP3: students and courses refused, info lines ignored, nothing to run', async () => {
    for (const [site, refused, ignored] of [['TP1', 3, 3], ['TP3', 2, 0]] as const) {
      const r = await recoverCli([site, '2025-11-18', '00:00:00', '--log-dir', SEED_LOGS, '--no-ai', '--out', path.join(work, site), '--worker-wait-ms', '0']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`recover: 0 statement(s); entries: converted 0, converted-by-model 0, needs-review 0, refused ${refused}, ignored ${ignored}, unparseable 0`);
    }
  });
});

describe('npm run recover: arguments', () => {
  it('refuses a bad site, a bad date and a missing backup with a clear message (exit 2)', async () => {
    expect(await recoverCli(['TP9', '2025-11-18'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown site "TP9"') });
    expect(await recoverCli(['TP1', '2025-13-40'])).toMatchObject({ code: 2, stderr: expect.stringContaining('"2025-13-40" is not a real date/time') });
    expect(await recoverCli(['db1', '--backup-dir', work])).toMatchObject({ code: 2, stderr: expect.stringContaining('no backup of db1') });
  });
});

describe('scripted model answers applied to a real site: only the verified one reaches it', () => {
  let fake: FakeOllama;
  let answer: FakeAnswer = { content: RIGHT_ANSWER };
  const logDir = () => path.join(work, 'model-logs');

  beforeAll(async () => {
    await mkdir(logDir(), { recursive: true });
    await writeFile(path.join(logDir(), 'TP1-2025-11-26.log'), `${JSON.stringify(PAID_ENTRY)}\n`);
    for (const sql of [
      `INSERT INTO branch (id, name, region) VALUES ('CN1', 'Hà Đông', 'TP1')`,
      `INSERT INTO customer (id, name, branch_id, region) VALUES ('KH1', 'A', 'CN1', 'TP1')`,
      `INSERT INTO contract (id, customer_id, signed_on, meter_serial, unit_price, is_paid, region) VALUES ('HD001', 'KH1', '2025-01-01', 'M1', 1984, false, 'TP1')`,
    ]) {
      await env.sql('db1', sql);
    }
    fake = await startFakeOllama({ answer: () => answer });
  });
  afterAll(async () => fake?.close());

  const recover = () =>
    runRecovery(
      {
        site: 'db1',
        since: new Date('2025-11-26T00:00:00Z'),
        source: 'files',
        logDir: logDir(),
        timeZone: 'Asia/Ho_Chi_Minh',
        ai: true,
        apply: true,
        out: path.join(work, 'model-out'),
        dialect: 'postgres',
        model: { url: fake.url, model: 'qwen2.5-coder:7b', timeoutMs: 300, retries: 1, retryDelayMs: 10 },
      },
      { stores: env.stores },
    );
  const contractRow = () => env.sql('db1', `SELECT id, is_paid, unit_price FROM contract`);

  for (const w of WRONG_ANSWERS) {
    it(`${w.name}: needs-review, nothing applied`, async () => {
      answer = w.answer;
      const { report } = await recover();
      expect(report.entries[0]).toMatchObject({ status: 'needs-review', reason: expect.stringMatching(w.reason) });
      expect(report.apply).toMatchObject({ statementsApplied: 0, rowsChanged: 0 });
      expect(await contractRow()).toEqual([{ id: 'HD001', is_paid: false, unit_price: '1984' }]);
    });
  }

  it('the right answer is applied', async () => {
    answer = { content: RIGHT_ANSWER };
    const { report } = await recover();
    expect(report.entries[0]!.status).toBe('converted-by-model');
    expect(report.apply).toMatchObject({ statementsApplied: 1, rowsChanged: 1 });
    expect(await contractRow()).toEqual([{ id: 'HD001', is_paid: true, unit_price: '1984' }]);
  });
});
