/**
 * `npm run import -- --readings <file> [--provinces <file>] [--url http://127.0.0.1:9999]`
 *
 * Loads the household smart-meter CSV **through the HTTP API** (batch creates), shows progress,
 * waits until replication has drained, then prints a summary read back from the sites (primary
 * and backup): readings and kWh per region, and the rejected rows with their reasons.
 * Exit 0 when every row was loaded or rejected for a stated reason and primary equals backup;
 * 1 otherwise; 2 for bad arguments or an unreachable gateway.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../config/config.js';
import { closeSiteStores, openSiteStores } from '../db/site-stores.js';
import { PLACEMENT, REGIONS } from '../domain/fragmentation.js';
import { createLogger } from '../logging/logger.js';
import { parseProvinces, planHouseholdImport } from '../import/household-plan.js';

const BATCH = 500;
const CONCURRENCY = 4;

interface BatchItem {
  status: number;
  opId?: string;
  error?: { code: string; message: string };
}

async function postBatch(url: string, entityPath: string, items: unknown[]): Promise<BatchItem[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${url}/api/${entityPath}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items }),
      });
      if (res.status === 503 && attempt < 60) {
        await sleep(1000);
        continue;
      }
      const body = (await res.json()) as { items?: BatchItem[]; error?: { message: string } };
      if (!body.items) throw new Error(`HTTP ${res.status}: ${body.error?.message ?? 'no items in answer'}`);
      return body.items;
    } catch (err) {
      if (attempt >= 60) throw err;
      await sleep(1000);
    }
  }
}

/** Loads rows in batches with a few requests in flight; returns counts and the refusals. */
async function load(url: string, label: string, entityPath: string, rows: ReadonlyArray<{ id: string }>) {
  let accepted = 0;
  let already = 0;
  const refused: Array<{ id: string; reason: string }> = [];
  const t0 = Date.now();
  let next = 0;
  let lastPrint = 0;
  const worker = async () => {
    while (next < rows.length) {
      const start = next;
      next += BATCH;
      const batch = rows.slice(start, start + BATCH);
      const res = await postBatch(url, entityPath, batch);
      res.forEach((r, i) => {
        if (r.status === 202) accepted++;
        else if (r.error?.code === 'conflict') already++;
        else refused.push({ id: batch[i]!.id, reason: `${r.status} ${r.error?.code}: ${r.error?.message}` });
      });
      const done = accepted + already + refused.length;
      if (Date.now() - lastPrint > 1000 || done === rows.length) {
        lastPrint = Date.now();
        const rate = Math.round(done / Math.max(0.001, (Date.now() - t0) / 1000));
        process.stdout.write(`  ${label}: ${done}/${rows.length} sent (${accepted} accepted, ${already} already present, ${refused.length} refused) ${rate}/s\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { accepted, already, refused };
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { readings: { type: 'string' }, provinces: { type: 'string' }, url: { type: 'string' }, 'drain-timeout-ms': { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`import: ${(err as Error).message}\n`);
    return 2;
  }
  if (!values.readings) {
    process.stderr.write('usage: npm run import -- --readings <lcl_daily_block.csv> [--provinces <province_regions.csv>] [--url http://127.0.0.1:9999]\n');
    return 2;
  }
  const config = loadConfigOrExit();
  const url = (values.url ?? `http://127.0.0.1:${config.port}`).replace(/\/$/, '');
  const provincesFile = values.provinces ?? path.join(path.dirname(values.readings), 'province_regions.csv');
  let readingsText: string;
  let provincesText: string;
  try {
    [readingsText, provincesText] = await Promise.all([readFile(values.readings, 'utf8'), readFile(provincesFile, 'utf8')]);
  } catch (err) {
    process.stderr.write(`import: cannot read input: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    const res = await fetch(`${url}/healthz`);
    if (!res.ok) process.stdout.write(`warning: ${url}/healthz answers ${res.status}: ${await res.text()}\n`);
  } catch (err) {
    process.stderr.write(`import: the gateway at ${url} is not reachable (${(err as Error).message}); run npm start first\n`);
    return 2;
  }

  const plan = planHouseholdImport(readingsText, parseProvinces(provincesText));
  process.stdout.write(
    `import: ${plan.branches.length} branches, ${plan.customers.length} households, ${plan.readings.length} readings, ${plan.rejected.length} rows rejected before sending\n`,
  );
  const t0 = Date.now();
  const results = {
    branches: await load(url, 'branches', 'branches', plan.branches),
    customers: await load(url, 'customers', 'customers', plan.customers),
    contracts: await load(url, 'contracts', 'contracts', plan.contracts),
    readings: await load(url, 'readings', 'meter-readings', plan.readings),
  };
  const sentMs = Date.now() - t0;

  process.stdout.write('import: waiting for apply and replication to drain\n');
  const drainDeadline = Date.now() + Number(values['drain-timeout-ms'] ?? 600_000);
  let backlog = -1;
  while (Date.now() < drainDeadline) {
    try {
      const s = (await (await fetch(`${url}/api/status`)).json()) as { queues: Record<string, { apply: number; replicationBacklog: number }> | null };
      backlog = s.queues ? Object.values(s.queues).reduce((n, q) => n + q.apply + q.replicationBacklog, 0) : -1;
      if (backlog === 0) break;
    } catch {
      backlog = -1;
    }
    await sleep(250);
  }
  const totalMs = Date.now() - t0;

  // Summary read back from the sites.
  const stores = openSiteStores(config, createLogger({ level: 'warn', name: 'import' }));
  let equal = true;
  try {
    process.stdout.write(`\nsummary (read back from the sites)\n`);
    process.stdout.write(`region  households  primary  readings  kwh            backup  readings  kwh\n`);
    for (const region of REGIONS) {
      const { primary, backup } = PLACEMENT[region];
      const [p] = await stores[primary].consumption([region]);
      const [b] = await stores[backup].consumption([region]);
      const households = [...plan.householdRegion.values()].filter((r) => r === region).length;
      if (p!.readings !== b!.readings || p!.kwh !== b!.kwh) equal = false;
      process.stdout.write(
        `${region}     ${String(households).padEnd(10)}  ${primary}      ${String(p!.readings).padEnd(8)}  ${p!.kwh.padEnd(13)}  ${backup}     ${String(b!.readings).padEnd(8)}  ${b!.kwh}\n`,
      );
    }
  } finally {
    await closeSiteStores(stores);
  }
  const refused = Object.values(results).flatMap((r) => r.refused);
  process.stdout.write(`\nrejected rows: ${plan.rejected.length}\n`);
  for (const r of plan.rejected) process.stdout.write(`  line ${r.line} ${r.household} ${r.day}: ${r.reason}\n`);
  if (refused.length) {
    process.stdout.write(`refused by the API: ${refused.length}\n`);
    for (const r of refused.slice(0, 50)) process.stdout.write(`  ${r.id}: ${r.reason}\n`);
  }
  const readingsRate = Math.round(plan.readings.length / (totalMs / 1000));
  process.stdout.write(
    `\naccepted: ${Object.entries(results).map(([k, v]) => `${k} ${v.accepted} (+${v.already} already present)`).join(', ')}\n` +
      `time: sent in ${sentMs} ms, replicated in ${totalMs} ms (${readingsRate} readings/s)\n` +
      `replication backlog at the end: ${backlog}\n` +
      `primary and backup ${equal ? 'agree' : 'DIFFER'}\n`,
  );
  return refused.length === 0 && backlog === 0 && equal ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`import failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
