import type { ClusterPorts } from '../../src/cluster/local-cluster.js';

/**
 * Base of the test ports: `ESS_TEST_PORT_BASE` (default 26430), so that two checkouts can run
 * their tests at once. Never the machine's 5432/6379, nor `npm start`'s 55431..55434/56379; and
 * below Linux's ephemeral range (32768..60999), where an outgoing connection of the tests could
 * hold the port a server is about to listen on.
 */
export const TEST_PORT_BASE = Number(process.env['ESS_TEST_PORT_BASE'] ?? 26430);

/** Ports of the shared test cluster: base+1..base+4 for db1..db4, base+9 for Redis. */
export const SHARED_TEST_PORTS: ClusterPorts = {
  db1: TEST_PORT_BASE + 1,
  db2: TEST_PORT_BASE + 2,
  db3: TEST_PORT_BASE + 3,
  db4: TEST_PORT_BASE + 4,
  redis: TEST_PORT_BASE + 9,
};

/** Ports of a fresh cluster for a test that kills processes: `slot` 0, 1, … keep them apart. */
export function faultClusterPorts(slot: number): ClusterPorts {
  const base = TEST_PORT_BASE + 10 + slot * 10;
  return { db1: base + 1, db2: base + 2, db3: base + 3, db4: base + 4, redis: base + 9 };
}

declare module 'vitest' {
  export interface ProvidedContext {
    clusterHome: string;
    clusterPorts: ClusterPorts;
  }
}
