import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { LocalCluster } from '../../src/cluster/local-cluster.js';
import { PROJECT_ROOT, loadConfig } from '../../src/config/config.js';
import { SITES } from '../../src/domain/fragmentation.js';
import { closeSiteStores, openSiteStores } from '../../src/db/site-stores.js';
import { createLogger } from '../../src/logging/logger.js';
import { SHARED_TEST_PORTS, TEST_PORT_BASE } from './ports.js';

/**
 * Starts the shared test cluster (four PostgreSQL servers and a Redis, real processes on their own
 * ports under `.ess-test/`), migrates the `ess` database on every site (the template of each test's
 * fresh databases), and destroys it all at the end.
 */
export default async function setup(project: TestProject) {
  const home = path.join(PROJECT_ROOT, '.ess-test', `shared-${TEST_PORT_BASE}`);
  const cluster = new LocalCluster({ home, ports: SHARED_TEST_PORTS, durable: false });
  await cluster.destroy();
  await cluster.start();
  const config = loadConfig({
    DB1_URL: cluster.siteUrl('db1'),
    DB2_URL: cluster.siteUrl('db2'),
    DB3_URL: cluster.siteUrl('db3'),
    DB4_URL: cluster.siteUrl('db4'),
    REDIS_URL: cluster.redisUrl,
  });
  const stores = openSiteStores(config, createLogger({ level: 'warn', name: 'test-setup' }));
  await Promise.all(SITES.map((s) => stores[s].migrate()));
  await closeSiteStores(stores);
  project.provide('clusterHome', home);
  project.provide('clusterPorts', SHARED_TEST_PORTS);
  return async () => {
    await cluster.destroy();
  };
}
