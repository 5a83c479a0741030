/**
 * A test's own slice of the shared cluster: fresh databases (from the migrated `ess` template) on
 * all four sites, a fresh Redis key prefix, and a fresh op log folder. Gateway and workers run
 * in-process against them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from '../../queues/connection.js';
import type { ClusterPorts } from '../../src/cluster/local-cluster.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { SITES, type SiteId } from '../../src/domain/fragmentation.js';
import { closeSiteStores, openSiteStores, type SiteStores } from '../../src/db/site-stores.js';
import { buildGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { startWorkerProcess, type WorkerProcess } from '../../workers/index.js';

/** A test environment; `close()` releases everything it opened. */
export interface TestEnv {
  readonly config: Config;
  readonly env: Record<string, string>;
  readonly stores: SiteStores;
  readonly redis: Redis;
  readonly logDir: string;
  gateway(): Promise<Gateway>;
  workers(): Promise<WorkerProcess>;
  /** Runs SQL on a site's test database. */
  sql<T extends pg.QueryResultRow = Record<string, unknown>>(site: SiteId, text: string, values?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

async function admin(port: number, fn: (c: pg.Client) => Promise<void>): Promise<void> {
  const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await c.connect();
  try {
    await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates a test environment on the given cluster (default: the shared test cluster). */
export async function createTestEnv(options: { ports?: ClusterPorts; extraEnv?: Record<string, string> } = {}): Promise<TestEnv> {
  const ports = options.ports ?? inject('clusterPorts');
  const tag = randomBytes(4).toString('hex');
  const dbName = `t_${tag}`;
  await Promise.all(SITES.map((s) => admin(ports[s], (c) => c.query(`CREATE DATABASE ${dbName} TEMPLATE ess`).then(() => undefined))));
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'ess-test-logs-'));
  const env: Record<string, string> = {
    DB1_URL: `postgres://postgres@127.0.0.1:${ports.db1}/${dbName}`,
    DB2_URL: `postgres://postgres@127.0.0.1:${ports.db2}/${dbName}`,
    DB3_URL: `postgres://postgres@127.0.0.1:${ports.db3}/${dbName}`,
    DB4_URL: `postgres://postgres@127.0.0.1:${ports.db4}/${dbName}`,
    REDIS_URL: `redis://127.0.0.1:${ports.redis}`,
    ESS_PREFIX: `t${tag}`,
    LOG_DIR: logDir,
    LOG_LEVEL: 'silent',
    ...options.extraEnv,
  };
  const config = loadConfig(env);
  const logger = createLogger({ level: 'silent', name: 'test' });
  const stores = openSiteStores(config, logger);
  const redis = createRedis(config, 'worker');
  const opened: Array<{ close(): Promise<void> }> = [];
  return {
    config,
    env,
    stores,
    redis,
    logDir,
    async gateway() {
      const g = await buildGateway(config, logger);
      opened.push(g);
      return g;
    },
    async workers() {
      const w = await startWorkerProcess(config, logger);
      opened.push(w);
      return w;
    },
    async sql(site, text, values) {
      const res = await (stores[site] as unknown as { query(t: string, v?: unknown[]): Promise<pg.QueryResult> }).query(text, values);
      return res.rows;
    },
    async close() {
      for (const o of opened.reverse()) await o.close();
      await closeSiteStores(stores);
      redis.disconnect();
      await Promise.all(SITES.map((s) => admin(ports[s], (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).then(() => undefined)).catch(() => undefined)));
      await rm(logDir, { recursive: true, force: true });
    },
  };
}

/** JSON request helper for `app.request()`. */
export function jsonRequest(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}
