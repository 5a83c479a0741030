/**
 * Real processes for tests that kill them: a fresh local cluster (its own ports and data folder),
 * the gateway and the workers as child processes, and helpers to kill and restart them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster, type ClusterPorts } from '../../src/cluster/local-cluster.js';
import { PROJECT_ROOT, loadConfig, type Config } from '../../src/config/config.js';
import { SITES } from '../../src/domain/fragmentation.js';
import { closeSiteStores, openSiteStores, type SiteStores } from '../../src/db/site-stores.js';
import { createLogger } from '../../src/logging/logger.js';

/** A child process of the test and a way to stop it for good. */
export interface Proc {
  readonly name: string;
  child: ChildProcess;
  output: string[];
}

/** A fresh cluster with gateway and workers as real processes. */
export interface ProcessCluster {
  readonly cluster: LocalCluster;
  readonly env: Record<string, string>;
  readonly config: Config;
  readonly stores: SiteStores;
  readonly baseUrl: string;
  gateway: Proc;
  workers: Proc;
  startWorkers(): Proc;
  startGateway(): Proc;
  /** Waits until `/healthz` is 200. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function launch(name: string, entry: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc: Proc = { name, child, output: [] };
  const keep = (d: Buffer) => {
    proc.output.push(d.toString());
    if (proc.output.length > 200) proc.output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return proc;
}

/** Kills a process (default SIGKILL) and waits for it to exit. */
export async function killProc(p: Proc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill(signal);
  await Promise.race([exited, sleep(15_000)]);
}

/** Starts a fresh cluster on `ports` under `.ess-test/<name>` with the gateway and workers as processes. */
export async function startProcessCluster(name: string, ports: ClusterPorts, extraEnv: Record<string, string> = {}): Promise<ProcessCluster> {
  const home = path.join(PROJECT_ROOT, '.ess-test', name);
  const cluster = new LocalCluster({ home, ports });
  await cluster.destroy();
  await cluster.start();
  const httpPort = ports.redis + 1000;
  const env: Record<string, string> = {
    DB1_URL: cluster.siteUrl('db1'),
    DB2_URL: cluster.siteUrl('db2'),
    DB3_URL: cluster.siteUrl('db3'),
    DB4_URL: cluster.siteUrl('db4'),
    REDIS_URL: cluster.redisUrl,
    ESS_HOME: home,
    LOG_DIR: path.join(home, 'logs'),
    PORT: String(httpPort),
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const config = loadConfig(env);
  const stores = openSiteStores(config, createLogger({ level: 'silent', name: 'test' }));
  await Promise.all(SITES.map((s) => stores[s].migrate()));
  const pc: ProcessCluster = {
    cluster,
    env,
    config,
    stores,
    baseUrl: `http://127.0.0.1:${httpPort}`,
    gateway: launch('gateway', path.join(PROJECT_ROOT, 'src', 'gateway.ts'), env),
    workers: launch('workers', path.join(PROJECT_ROOT, 'workers', 'index.ts'), env),
    startWorkers() {
      pc.workers = launch('workers', path.join(PROJECT_ROOT, 'workers', 'index.ts'), env);
      return pc.workers;
    },
    startGateway() {
      pc.gateway = launch('gateway', path.join(PROJECT_ROOT, 'src', 'gateway.ts'), env);
      return pc.gateway;
    },
    async waitHealthy(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        try {
          const res = await fetch(`${pc.baseUrl}/healthz`);
          if (res.ok) return;
          last = await res.text();
        } catch (err) {
          last = (err as Error).message;
        }
        await sleep(200);
      }
      throw new Error(`not healthy in ${timeoutMs} ms: ${last}\n--- gateway:\n${pc.gateway.output.join('')}\n--- workers:\n${pc.workers.output.join('')}`);
    },
    async close() {
      await Promise.all([killProc(pc.gateway, 'SIGTERM'), killProc(pc.workers, 'SIGTERM')]);
      await Promise.all([killProc(pc.gateway), killProc(pc.workers)]);
      await closeSiteStores(stores);
      await cluster.destroy();
      await rm(home, { recursive: true, force: true });
    },
  };
  return pc;
}

/** POSTs JSON; returns status and parsed body (null when not JSON), and the time it took, ms. */
export async function postJson(url: string, body: unknown, timeoutMs = 10_000): Promise<{ status: number; body: any; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, ms: performance.now() - t0 };
}
