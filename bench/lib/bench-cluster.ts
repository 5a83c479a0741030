/**
 * What the benchmark runs against: its own local cluster (four PostgreSQL servers and a Redis on
 * the bench's ports under `.ess-bench/`, durable like `npm start`), or the sites named in
 * `DB1_URL..DB4_URL` and `REDIS_URL`; plus the gateway and worker processes, spawned the way
 * `npm start` spawns them. `stop()` ends everything it started, in any state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { LocalCluster, type ClusterPorts } from '../../src/cluster/local-cluster.js';
import { PROJECT_ROOT, loadConfig, serviceEntry, type Config } from '../../src/config/config.js';
import { closeSiteStores, openSiteStores } from '../../src/db/site-stores.js';
import { SITES } from '../../src/domain/fragmentation.js';
import { createLogger } from '../../src/logging/logger.js';

/** Default ports of the bench cluster (clear of npm start's and the tests'). */
export const BENCH_PORTS: ClusterPorts = { db1: 28431, db2: 28432, db3: 28433, db4: 28434, redis: 28439 };
/** Default gateway port of the bench. */
export const BENCH_GATEWAY_PORT = 28999;

/** Options of a {@link BenchCluster}. */
export interface BenchClusterOptions {
  readonly home: string;
  readonly ports: ClusterPorts;
  readonly gatewayPort: number;
  /** Extra `node` flags of the worker process (profiling: `--cpu-prof`, `--import <hooks>`). */
  readonly workerNodeArgs?: readonly string[];
  /** Extra `node` flags of the gateway process. */
  readonly gatewayNodeArgs?: readonly string[];
  /** Extra environment of the gateway and worker processes. */
  readonly extraEnv?: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
  /** Remove the data folder first (initdb again); otherwise initialised servers are reused with emptied data. */
  readonly fresh?: boolean;
}

/** A spawned service process. */
interface Service {
  readonly name: 'gateway' | 'workers';
  readonly child: ChildProcess;
  exited: boolean;
  stderrTail: string;
}

/** Peak and current resident memory of a process, from /proc (kB → MB). */
export interface ProcessMemory {
  readonly pid: number;
  readonly peakRssMb: number;
  readonly rssMb: number;
}

function readProcMemory(pid: number): ProcessMemory | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? NaN);
    return { pid, peakRssMb: Math.round(kb('VmHWM') / 102.4) / 10, rssMb: Math.round(kb('VmRSS') / 102.4) / 10 };
  } catch {
    return undefined;
  }
}

/** The bench's cluster and services. */
export class BenchCluster {
  /** Configuration the services run with (as parsed by the project's own loader). */
  config!: Config;
  /** Base URL of the gateway. */
  readonly baseUrl: string;
  /** True when the sites come from the environment (nothing of theirs is started or wiped). */
  readonly external: boolean;
  private cluster: LocalCluster | undefined;
  private readonly services: Service[] = [];
  private env: NodeJS.ProcessEnv = {};
  private stopping = false;
  private readonly peak = new Map<string, number>();
  private sampler: NodeJS.Timeout | undefined;

  constructor(private readonly options: BenchClusterOptions) {
    this.baseUrl = `http://127.0.0.1:${options.gatewayPort}`;
    const e = process.env;
    this.external = Boolean(e['DB1_URL'] && e['DB2_URL'] && e['DB3_URL'] && e['DB4_URL'] && e['REDIS_URL']);
  }

  /** Starts the servers (fresh data folder), applies the schema, spawns workers and gateway, waits for `/healthz`. */
  async start(): Promise<void> {
    const { home, ports, log } = this.options;
    const prefix = this.external ? `bench-${Date.now().toString(36)}` : 'bench';
    if (!this.external) {
      this.cluster = new LocalCluster({ home, ports, log: (l) => log(`cluster: ${l}`), durable: true });
      if (this.options.fresh && existsSync(home)) {
        log(`--fresh: removing the previous bench data folder ${home}`);
        await this.cluster.destroy();
      }
      await mkdir(home, { recursive: true });
      // The data folder must never be committed: it ignores itself.
      await writeFile(path.join(home, '.gitignore'), '*\n');
      await this.cluster.start();
      // Servers initialised by an earlier run are reused (initdb is slow); their data is not.
      await this.resetData();
      this.env = {
        DB1_URL: this.cluster.siteUrl('db1'),
        DB2_URL: this.cluster.siteUrl('db2'),
        DB3_URL: this.cluster.siteUrl('db3'),
        DB4_URL: this.cluster.siteUrl('db4'),
        REDIS_URL: this.cluster.redisUrl,
      };
    } else {
      log(`using the sites in DB1_URL..DB4_URL and REDIS_URL, queue prefix ${prefix}`);
      await mkdir(home, { recursive: true });
      await writeFile(path.join(home, '.gitignore'), '*\n');
    }
    this.env = {
      ...process.env,
      ...this.env,
      ESS_HOME: home,
      ESS_PREFIX: prefix,
      PORT: String(this.options.gatewayPort),
      HOST: '127.0.0.1',
      LOG_DIR: path.join(home, 'logs'),
      ...this.options.extraEnv,
    };
    this.config = loadConfig(this.env);
    const stores = openSiteStores(this.config, createLogger({ level: 'warn', name: 'bench-migrate' }));
    try {
      await Promise.all(SITES.map((s) => stores[s].migrate()));
    } finally {
      await closeSiteStores(stores);
    }
    await mkdir(this.config.logDir, { recursive: true });
    // Compiled JavaScript (npm run bench builds it) unless profiling: the profile hooks patch the
    // TypeScript modules, which only a tsx-run service loads.
    const profiling = (this.options.workerNodeArgs ?? []).length > 0 || (this.options.gatewayNodeArgs ?? []).length > 0;
    const env = profiling ? { ...process.env, ESS_COMPILED: '0' } : process.env;
    this.spawnService('workers', serviceEntry('workers', env), this.options.workerNodeArgs ?? []);
    this.spawnService('gateway', serviceEntry('gateway', env), this.options.gatewayNodeArgs ?? []);
    await this.waitHealthy();
    this.sampler = setInterval(() => this.sample(), 200);
    this.sampler.unref();
  }

  /** Own cluster only: recreates each site's `ess` database and empties Redis, so every run starts from nothing. */
  private async resetData(): Promise<void> {
    const cluster = this.cluster!;
    await Promise.all(
      SITES.map(async (site) => {
        const client = new pg.Client({ connectionString: cluster.siteUrl(site, 'postgres'), connectionTimeoutMillis: 5000 });
        await client.connect();
        try {
          await client.query('DROP DATABASE IF EXISTS ess WITH (FORCE)');
          await client.query('CREATE DATABASE ess');
        } finally {
          await client.end();
        }
      }),
    );
    const redis = new Redis(cluster.redisUrl, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    try {
      await redis.flushall();
      await redis.config('RESETSTAT');
    } finally {
      redis.disconnect();
    }
    await rm(path.join(this.options.home, 'logs'), { recursive: true, force: true });
  }

  private spawnService(name: Service['name'], how: { nodeArgs: string[]; entry: string }, nodeArgs: readonly string[]): void {
    const out = createWriteStream(path.join(this.config.logDir, `${name}.out.log`), { flags: 'a' });
    const child = spawn(process.execPath, [...how.nodeArgs, ...nodeArgs, how.entry], {
      cwd: PROJECT_ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const svc: Service = { name, child, exited: false, stderrTail: '' };
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    child.stderr!.on('data', (d: Buffer) => (svc.stderrTail = (svc.stderrTail + d.toString()).slice(-2000)));
    child.on('exit', (code, signal) => {
      svc.exited = true;
      if (!this.stopping) this.options.log(`ERROR: ${name} (pid ${child.pid}) exited (${signal ?? code}) during the run; see ${this.config.logDir}/${name}.out.log\n${svc.stderrTail}`);
    });
    this.services.push(svc);
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + 60_000;
    let last = '';
    while (Date.now() < deadline) {
      const dead = this.services.find((s) => s.exited);
      if (dead) throw new Error(`${dead.name} exited while starting:\n${dead.stderrTail}`);
      try {
        const res = await fetch(`${this.baseUrl}/healthz`);
        if (res.ok) return;
        last = `${res.status} ${await res.text()}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(250);
    }
    throw new Error(`the gateway at ${this.baseUrl} was not healthy within 60 s (last: ${last}); see ${this.config.logDir}`);
  }

  /** Throws when a service died: the figures would be meaningless. */
  assertAlive(): void {
    const dead = this.services.find((s) => s.exited);
    if (dead) throw new Error(`${dead.name} died during the run:\n${dead.stderrTail}`);
  }

  private sample(): void {
    for (const s of this.services) {
      if (s.exited || !s.child.pid) continue;
      const m = readProcMemory(s.child.pid);
      if (m) this.peak.set(s.name, Math.max(this.peak.get(s.name) ?? 0, m.rssMb));
    }
  }

  /** Peak RSS (kernel's VmHWM, and the 200 ms poll) of the gateway and the workers, MB. */
  memory(): Record<'gateway' | 'workers', ProcessMemory & { polledPeakMb: number }> {
    const out = {} as Record<'gateway' | 'workers', ProcessMemory & { polledPeakMb: number }>;
    for (const s of this.services) {
      const m = readProcMemory(s.child.pid!) ?? { pid: s.child.pid!, peakRssMb: NaN, rssMb: NaN };
      out[s.name] = { ...m, polledPeakMb: this.peak.get(s.name) ?? NaN };
    }
    return out;
  }

  /**
   * Pids of every process of the run this machine can see: gateway, workers, Redis and each
   * site's postmaster (its backends are its children), and this bench process. Empty for
   * servers of an external deployment.
   */
  pids(): Record<string, number | undefined> {
    const out: Record<string, number | undefined> = { gateway: this.pid('gateway'), workers: this.pid('workers'), bench: process.pid };
    if (this.cluster) {
      out['redis'] = this.cluster.redisPid();
      for (const site of ['db1', 'db2', 'db3', 'db4'] as const) out[site] = this.cluster.sitePid(site);
    }
    return out;
  }

  /** The pid of a service. */
  pid(name: Service['name']): number | undefined {
    return this.services.find((s) => s.name === name)?.child.pid;
  }

  /** Stops the services (SIGTERM, then SIGKILL after 10 s) and the servers this run started. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.sampler) clearInterval(this.sampler);
    await Promise.all(
      this.services.map(async (s) => {
        if (s.exited) return;
        s.child.kill('SIGTERM');
        for (let i = 0; i < 100 && !s.exited; i++) await sleep(100);
        if (!s.exited) s.child.kill('SIGKILL');
      }),
    );
    if (this.cluster) await this.cluster.stop();
  }

  /** Removes the data folder (own cluster only, after `stop`): `--clean`. */
  async removeData(): Promise<void> {
    if (this.cluster) await rm(this.options.home, { recursive: true, force: true });
  }
}
