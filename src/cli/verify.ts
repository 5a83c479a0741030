/**
 * `npm run verify [-- --json] [--region TP2] [--drain-timeout-ms 60000]`: compares primary and
 * backup per region. Exit 0 equal, 1 different, 2 could not check (a site down, bad arguments).
 */
import { parseArgs } from 'node:util';
import { createRedis, waitReady } from '../../queues/connection.js';
import { QueueSet } from '../../queues/queue-set.js';
import { loadConfigOrExit } from '../config/config.js';
import { closeSiteStores, openSiteStores } from '../db/site-stores.js';
import { isRegion, type Region } from '../domain/fragmentation.js';
import { createLogger } from '../logging/logger.js';
import { verifyCluster } from '../verify/verify.js';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: { json: { type: 'boolean', default: false }, region: { type: 'string', multiple: true }, 'drain-timeout-ms': { type: 'string' } },
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`verify: ${(err as Error).message}\nusage: npm run verify -- [--json] [--region TP1] [--drain-timeout-ms 60000]\n`);
    return 2;
  }
  const regions = args.values.region;
  if (regions?.some((r) => !isRegion(r))) {
    process.stderr.write(`verify: unknown region in ${regions.join(', ')}: expected TP1, TP2 or TP3\n`);
    return 2;
  }
  const drain = args.values['drain-timeout-ms'] === undefined ? 60_000 : Number(args.values['drain-timeout-ms']);
  if (!Number.isInteger(drain) || drain < 0) {
    process.stderr.write('verify: --drain-timeout-ms must be a non-negative integer (ms)\n');
    return 2;
  }
  const config = loadConfigOrExit();
  const logger = createLogger({ level: 'warn', name: 'verify' });
  const stores = openSiteStores(config, logger);
  const redis = createRedis(config, 'cli');
  redis.on('error', () => undefined);
  await waitReady(redis, 10_000).catch(() => undefined); // without Redis, verify compares without waiting for the drain
  const queues = new QueueSet(redis, config.prefix, config.partitions);
  try {
    const report = await verifyCluster(stores, queues, { drainTimeoutMs: drain, regions: regions as Region[] | undefined });
    if (args.values.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      for (const t of report.tables) {
        const counts = Object.entries(t.sites).map(([s, d]) => `${s}=${d!.count}`).join(' ');
        process.stdout.write(`${t.equal ? 'ok  ' : 'DIFF'} ${t.region.padEnd(9)} ${t.table.padEnd(14)} ${counts}\n`);
        for (const r of t.differingRows) process.stdout.write(`       row ${r.id}: ${r.only ? `only on ${r.only}` : 'content differs'}\n`);
      }
      for (const p of report.problems) process.stdout.write(`problem: ${p}\n`);
      process.stdout.write(`verify: ${report.result}\n`);
    }
    return report.result === 'equal' ? 0 : report.result === 'different' ? 1 : 2;
  } finally {
    await queues.close().catch(() => undefined);
    redis.disconnect();
    await closeSiteStores(stores);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`verify: could not check: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
