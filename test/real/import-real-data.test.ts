/**
 * `npm run test:real`: the import of the real household smart-meter data (../shared/data) end to
 * end through real processes: `npm run import` through the HTTP API, then `npm run verify`.
 * Fails (does not skip) when the data is missing under CI.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/config.js';
import { PLACEMENT, REGIONS, type Region } from '../../src/domain/fragmentation.js';
import { formatMilliKwh } from '../../src/domain/kwh.js';
import { faultClusterPorts } from '../support/ports.js';
import { startProcessCluster, type ProcessCluster } from '../support/processes.js';

const run = promisify(execFile);
const DATA = path.join(PROJECT_ROOT, '..', 'shared', 'data');
const READINGS = path.join(DATA, 'lcl_daily_block_0.csv');
const present = existsSync(READINGS);
if (!present && process.env['CI']) throw new Error(`test:real needs ${READINGS} (the shared data) and CI is set: it is missing`);

/** Expected readings and kWh per region, computed here from the CSV on its own (not by the import's code). */
function expectedFromCsv(): Record<Region, { households: number; readings: number; kwh: string }> {
  const provinces = (parse(readFileSync(path.join(DATA, 'province_regions.csv')), { columns: true }) as Array<{ code: string; region: Region }>).sort((a, b) => a.code.localeCompare(b.code));
  const rows = parse(readFileSync(READINGS), { columns: true }) as Array<{ LCLid: string; energy_sum: string }>;
  const households = [...new Set(rows.map((r) => r.LCLid))].sort();
  const regionOf = new Map(households.map((h, i) => [h, provinces[i % provinces.length]!.region]));
  const out = { TP1: { households: 0, readings: 0, milli: 0n }, TP2: { households: 0, readings: 0, milli: 0n }, TP3: { households: 0, readings: 0, milli: 0n } };
  for (const h of households) out[regionOf.get(h)!].households++;
  for (const r of rows) {
    const region = regionOf.get(r.LCLid)!;
    out[region].readings++;
    // The CSV's kWh are sums of 3-decimal half-hour reads with binary noise: exact at 0.001.
    out[region].milli += BigInt(Math.round(Number(r.energy_sum) * 1000));
  }
  return Object.fromEntries(REGIONS.map((r) => [r, { households: out[r].households, readings: out[r].readings, kwh: formatMilliKwh(out[r].milli) }])) as never;
}

let pc: ProcessCluster | undefined;
afterAll(async () => pc?.close());

describe.skipIf(!present)('import of the real smart-meter data', () => {
  it('loads all 50 households and 25,574 readings; per-region kWh equal the CSV; verify exits 0', async () => {
    const expected = expectedFromCsv();
    expect(REGIONS.reduce((n, r) => n + expected[r].households, 0)).toBe(50);
    expect(REGIONS.reduce((n, r) => n + expected[r].readings, 0)).toBe(25574);
    pc = await startProcessCluster('real-import', faultClusterPorts(5));
    await pc.waitHealthy();
    const env = { ...process.env, ...pc.env };
    const imp = await run('npx', ['tsx', 'src/cli/import.ts', '--readings', READINGS, '--url', pc.baseUrl], { cwd: PROJECT_ROOT, env, maxBuffer: 64 << 20 });
    process.stdout.write(imp.stdout.split('\nsummary')[1] ? `summary${imp.stdout.split('\nsummary')[1]}` : imp.stdout);
    for (const region of REGIONS) {
      const e = expected[region];
      const { primary, backup } = PLACEMENT[region];
      expect(imp.stdout).toMatch(new RegExp(`${region}\\s+${e.households}\\s+${primary}\\s+${e.readings}\\s+${e.kwh.replace('.', '\\.')}\\s+${backup}\\s+${e.readings}\\s+${e.kwh.replace('.', '\\.')}`));
      expect(await pc.stores[primary].consumption([region])).toEqual([{ region, readings: e.readings, kwh: e.kwh }]);
      expect(await pc.stores[backup].consumption([region])).toEqual([{ region, readings: e.readings, kwh: e.kwh }]);
    }
    expect(imp.stdout).toContain('rejected rows: 0');
    // Every accepted write journaled exactly once on each copy: 34 branches + 50 customers + 50 contracts + 25,574 readings.
    const journal = await Promise.all((['db1', 'db2', 'db3', 'db4'] as const).map((s) => pc!.stores[s].journalCount()));
    expect(journal[0]! + journal[1]! + journal[2]!).toBe(34 + 50 + 50 + 25574);
    expect(journal[3]).toBe(34 + 50 + 50 + 25574);
    const verify = await run('npx', ['tsx', 'src/cli/verify.ts'], { cwd: PROJECT_ROOT, env }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(verify.out).toContain('verify: equal');
    expect(verify.code).toBe(0);
  });
});
