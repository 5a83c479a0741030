import type { ClusterPorts } from '../../src/cluster/local-cluster.js';

/** Ports of the shared test cluster (never the machine's 5432/6379, nor `npm start`'s 5543x/56379). */
export const SHARED_TEST_PORTS: ClusterPorts = { db1: 56431, db2: 56432, db3: 56433, db4: 56434, redis: 56390 };

/** Ports of a fresh cluster for a test that kills processes: `slot` 0, 1, … keep them apart. */
export function faultClusterPorts(slot: number): ClusterPorts {
  const base = 56500 + slot * 10;
  return { db1: base + 1, db2: base + 2, db3: base + 3, db4: base + 4, redis: base + 9 };
}

declare module 'vitest' {
  export interface ProvidedContext {
    clusterHome: string;
    clusterPorts: ClusterPorts;
  }
}
