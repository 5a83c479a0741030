/**
 * Preloaded into the worker process by `npm run bench -- --profile` (`--import`): wraps the
 * phases of a write job (BullMQ handler and completion, routing read, pool checkout, each SQL
 * statement, op log line, replicate enqueue, op-event publish) with wall-clock timers and writes
 * the totals to `ESS_BENCH_PROFILE_FILE` when the process exits. Not loaded in normal runs.
 */
import { writeFileSync } from 'node:fs';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { QueueSet } from '../queues/queue-set.js';
import { PostgresSiteStore } from '../src/db/postgres/postgres-site-store.js';
import { OpLog } from '../src/logging/op-log.js';
import { RoutingTableStore } from '../src/routing/routing-table.js';

interface Acc {
  n: number;
  totalMs: number;
  samples: number[];
}
const accs = new Map<string, Acc>();
const MAX_SAMPLES = 50_000;

function record(label: string, ms: number): void {
  let a = accs.get(label);
  if (!a) accs.set(label, (a = { n: 0, totalMs: 0, samples: [] }));
  a.n++;
  a.totalMs += ms;
  if (a.samples.length < MAX_SAMPLES) a.samples.push(ms);
}

type AnyFn = (...args: unknown[]) => unknown;
function wrap(proto: object, method: string, label: (self: unknown, args: unknown[]) => string | undefined): void {
  const target = proto as Record<string, AnyFn>;
  const orig = target[method];
  if (typeof orig !== 'function') throw new Error(`profile-hooks: no method ${method}`);
  target[method] = function (this: unknown, ...args: unknown[]) {
    const name = label(this, args);
    const t = performance.now();
    const last = args[args.length - 1];
    if (name !== undefined && typeof last === 'function') {
      args[args.length - 1] = (...cbArgs: unknown[]) => {
        record(name, performance.now() - t);
        return (last as AnyFn)(...cbArgs);
      };
      return orig.apply(this, args);
    }
    const r = orig.apply(this, args);
    if (name === undefined) return r;
    if (r && typeof (r as Promise<unknown>).then === 'function') {
      return (r as Promise<unknown>).finally(() => record(name, performance.now() - t));
    }
    record(name, performance.now() - t);
    return r;
  };
}

const kindOf = (job: unknown) => (String((job as { queueName?: string })?.queueName ?? '').startsWith('replicate') ? 'replicate' : 'apply');
wrap(Worker.prototype, 'processJob', (_s, a) => `job.total (${kindOf(a[0])}): handler + completion`);
wrap(Worker.prototype, 'callProcessJob', (_s, a) => `job.handler (${kindOf(a[0])})`);
wrap(Worker.prototype, 'handleCompleted', (_s, a) => `job.moveToCompleted+fetchNext (${kindOf(a[1])})`);
wrap(RoutingTableStore.prototype, 'get', () => 'redis: route read (HGET)');
wrap(PostgresSiteStore.prototype, 'applyOp', (s) => `pg: applyOp on ${(s as PostgresSiteStore).site === 'db4' ? 'backup' : 'primary'} (whole)`);
wrap(PostgresSiteStore.prototype, 'applyBatch', (_s, a) => `pg: applyBatch (whole, ${(a[0] as unknown[]).length >= 8 ? '8+' : (a[0] as unknown[]).length} ops)`);
wrap(pg.Pool.prototype, 'connect', (_s, a) => (a.length === 0 ? 'pg: pool checkout' : undefined));
wrap(pg.Client.prototype, 'query', (_s, a) => {
  const q = a[0];
  const text = typeof q === 'string' ? q : String((q as { text?: string })?.text ?? '');
  const t = text.trim();
  if (t.startsWith('BEGIN')) return 'pg: BEGIN';
  if (t.startsWith('COMMIT')) return 'pg: COMMIT (fsync)';
  if (t.startsWith('ROLLBACK')) return 'pg: ROLLBACK';
  if (t.startsWith('WITH j AS')) return 'pg: journal gate (journal + version)';
  if (t.startsWith('WITH')) return 'pg: one-statement apply';
  const m = /^(INSERT INTO|UPDATE|DELETE FROM|SELECT)\s+(\w+)?/.exec(t);
  return m ? `pg: ${m[1]} ${m[2] ?? ''}`.trim() : 'pg: other';
});
wrap(OpLog.prototype, 'write', () => 'log: op log line (sync write)');
wrap(QueueSet.prototype, 'addReplicate', () => 'redis: replicate batch enqueue (Queue.add)');
wrap(Redis.prototype, 'publish', () => 'redis: op-event publish');

process.on('exit', () => {
  const file = process.env['ESS_BENCH_PROFILE_FILE'];
  if (!file) return;
  const out: Record<string, { n: number; meanMs: number; p50Ms: number; p99Ms: number; totalMs: number }> = {};
  for (const [label, a] of accs) {
    const s = a.samples.sort((x, y) => x - y);
    const pick = (p: number) => Math.round((s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? NaN) * 1000) / 1000;
    out[label] = { n: a.n, meanMs: Math.round((a.totalMs / a.n) * 1000) / 1000, p50Ms: pick(0.5), p99Ms: pick(0.99), totalMs: Math.round(a.totalMs) };
  }
  writeFileSync(file, JSON.stringify({ pid: process.pid, cpuUsage: process.cpuUsage(), uptimeS: process.uptime(), phases: out }, null, 2));
});
