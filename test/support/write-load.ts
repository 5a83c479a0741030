/**
 * A steady write load over the three regions through the gateway's HTTP API: each client posts
 * meter readings for one region's contract in a loop and records the op id of every `202`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { REGIONS, type Region } from '../../src/domain/fragmentation.js';
import { postJson } from './processes.js';

/** One accepted write. */
export interface AcceptedOp {
  readonly opId: string;
  readonly region: Region;
  /** ms since the epoch, when the 202 arrived. */
  readonly at: number;
}

/** A running load. */
export interface WriteLoad {
  readonly accepted: AcceptedOp[];
  /** Answers other than 202: status (0 = no answer) and how long they took, ms. */
  readonly refused: Array<{ status: number; ms: number; at: number }>;
  stop(): Promise<void>;
}

/** Creates a branch, customer and contract per region (`B-TP1`, `C-TP1`, `K-TP1`…), waiting until replicated. */
export async function seedRegions(baseUrl: string): Promise<void> {
  for (const r of REGIONS) {
    for (const [path, body] of [
      ['branches', { id: `B-${r}`, name: `Branch ${r}`, region: r }],
      ['customers', { id: `C-${r}`, name: `Customer ${r}`, branchId: `B-${r}` }],
      ['contracts', { id: `K-${r}`, customerId: `C-${r}`, signedOn: '2025-01-01', meterSerial: `M-${r}` }],
    ] as const) {
      const res = await postJson(`${baseUrl}/api/${path}?wait=30000`, body, 35_000);
      if (res.status >= 300) throw new Error(`seed ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
}

/** Starts `clientsPerRegion` clients per region, each posting a reading every `pauseMs`. */
export function startWriteLoad(baseUrl: string, options: { clientsPerRegion?: number; pauseMs?: number; tag?: string } = {}): WriteLoad {
  const accepted: AcceptedOp[] = [];
  const refused: WriteLoad['refused'] = [];
  let stopped = false;
  let n = 0;
  const tag = options.tag ?? 'L';
  const client = async (region: Region) => {
    while (!stopped) {
      const i = n++;
      const t0 = Date.now();
      try {
        const res = await postJson(`${baseUrl}/api/meter-readings`, { id: `${tag}-${region}-${i}`, contractId: `K-${region}`, readOn: '2025-06-01', kwh: '1.250' }, 5000);
        if (res.status === 202) accepted.push({ opId: res.body.opId, region, at: Date.now() });
        else refused.push({ status: res.status, ms: res.ms, at: t0 });
      } catch {
        refused.push({ status: 0, ms: Date.now() - t0, at: t0 });
      }
      await sleep(options.pauseMs ?? 25);
    }
  };
  const clients = REGIONS.flatMap((r) => Array.from({ length: options.clientsPerRegion ?? 2 }, () => client(r)));
  return {
    accepted,
    refused,
    async stop() {
      stopped = true;
      await Promise.all(clients);
    },
  };
}
