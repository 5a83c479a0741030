/**
 * Limit B's consumer: a BullMQ worker that does nothing, in its own process like the ESS workers.
 * Env: REDIS_URL, BENCH_QUEUE, BENCH_PREFIX, BENCH_CONCURRENCY. Prints `ready` once listening;
 * closes on SIGTERM.
 */
import { Worker } from 'bullmq';

const url = process.env['REDIS_URL'];
const queue = process.env['BENCH_QUEUE'];
const prefix = process.env['BENCH_PREFIX'];
const concurrency = Number(process.env['BENCH_CONCURRENCY'] ?? '1');
if (!url || !queue || !prefix) {
  process.stderr.write('noop-worker: REDIS_URL, BENCH_QUEUE and BENCH_PREFIX are required\n');
  process.exit(2);
}
const worker = new Worker(queue, async () => undefined, {
  connection: { url, maxRetriesPerRequest: null, connectionName: 'ess-bench-noop' },
  prefix,
  concurrency,
});
worker.on('error', (err) => process.stderr.write(`noop-worker: ${err.message}\n`));
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
