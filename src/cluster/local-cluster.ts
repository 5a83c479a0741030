/**
 * The embedded local cluster: four PostgreSQL servers (db1..db4) and a Redis, each its own server
 * process with its own data folder under the cluster's home, from the machine's binaries.
 * Used by `npm start`, the tests (on their own ports) and the benchmark.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { SITES, type SiteId } from '../domain/fragmentation.js';

const run = promisify(execFile);

/** Ports of the cluster's servers. */
export interface ClusterPorts {
  readonly db1: number;
  readonly db2: number;
  readonly db3: number;
  readonly db4: number;
  readonly redis: number;
}

/** Options of a {@link LocalCluster}. */
export interface LocalClusterOptions {
  /** Data folder: `pg/<site>`, `redis/`, `run/`. */
  readonly home: string;
  readonly ports: ClusterPorts;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /** PostgreSQL `fsync`/`synchronous_commit`. @defaultValue true (durable, as deployed) */
  readonly durable?: boolean;
}

/** Raised when a server binary is missing; the message says what to install. */
export class MissingBinaryError extends Error {
  readonly code = 'missing_binary';
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Finds the PostgreSQL server binaries: `PG_BIN`, then PATH, then Debian's `/usr/lib/postgresql/<v>/bin` (newest). */
export function findPgBin(): string {
  const candidates: string[] = [];
  if (process.env['PG_BIN']) candidates.push(process.env['PG_BIN']);
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (dir) candidates.push(dir);
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSyncSafe('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  }
  for (const dir of candidates) {
    if (['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(path.join(dir, b)))) return dir;
  }
  throw new MissingBinaryError(
    'PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH, in PG_BIN or under /usr/lib/postgresql/*/bin.\n' +
      '  Install them:  apt-get install -y postgresql   (Debian/Ubuntu; or set PG_BIN to their folder)',
  );
}

/** Finds `redis-server`: `REDIS_SERVER`, then PATH. */
export function findRedisServer(): string {
  const candidates = [process.env['REDIS_SERVER'], ...(process.env['PATH'] ?? '').split(':').map((d) => d && path.join(d, 'redis-server'))];
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new MissingBinaryError('redis-server was not found on PATH.\n  Install it:  apt-get install -y redis-server   (or set REDIS_SERVER to its path)');
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** True when the process with this pid is alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A local cluster of four PostgreSQL servers and one Redis. */
export class LocalCluster {
  readonly home: string;
  readonly ports: ClusterPorts;
  private readonly log: (line: string) => void;
  private pgBin: string | undefined;

  constructor(private readonly options: LocalClusterOptions) {
    this.home = path.resolve(options.home);
    this.ports = options.ports;
    this.log = options.log ?? (() => undefined);
  }

  /** Data folder of a site's server. */
  siteDir(site: SiteId): string {
    return path.join(this.home, 'pg', site);
  }

  /** Connection URL of a site's `ess` database. */
  siteUrl(site: SiteId, database = 'ess'): string {
    return `postgres://postgres@127.0.0.1:${this.ports[site]}/${database}`;
  }

  /** Redis URL. */
  get redisUrl(): string {
    return `redis://127.0.0.1:${this.ports.redis}`;
  }

  /** The postmaster pid of a site, from its `postmaster.pid`, if running. */
  sitePid(site: SiteId): number | undefined {
    const f = path.join(this.siteDir(site), 'postmaster.pid');
    if (!existsSync(f)) return undefined;
    const pid = Number(readFileSync(f, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  }

  /** The Redis pid, from its pid file, if running. */
  redisPid(): number | undefined {
    const f = path.join(this.home, 'redis', 'redis.pid');
    if (!existsSync(f)) return undefined;
    const pid = Number(readFileSync(f, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  }

  private async asPostgres(bin: string, args: string[], timeoutMs = 120_000): Promise<string> {
    const file = path.join(this.pgBin ??= findPgBin(), bin);
    const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
    try {
      const { stdout } = await run(cmd, argv, { timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${bin} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
    }
  }

  /**
   * Makes sure the `postgres` user can reach the data folder when running as root: a clone may
   * live under a folder only root can enter, so ancestors get the search (x) bit for others.
   */
  private async grantTraversal(dir: string): Promise<void> {
    if (!isRoot()) return;
    const parts = path.resolve(dir).split(path.sep).filter(Boolean);
    let cur = '/';
    for (const part of parts) {
      cur = path.join(cur, part);
      const st = statSync(cur);
      if ((st.mode & 0o001) === 0) {
        await chmod(cur, st.mode | 0o001);
        this.log(`note: gave others the search bit on ${cur} so the postgres user can reach the data folder`);
      }
    }
  }

  private async pgUid(): Promise<{ uid: number; gid: number }> {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: g } = await run('id', ['-g', 'postgres']);
    return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
  }

  /** Creates a site's data folder with initdb if it does not exist yet. */
  private async initSite(site: SiteId): Promise<void> {
    const dir = this.siteDir(site);
    if (existsSync(path.join(dir, 'PG_VERSION'))) return;
    await mkdir(path.dirname(dir), { recursive: true, mode: 0o755 });
    await mkdir(dir, { mode: 0o700 });
    if (isRoot()) {
      const { uid, gid } = await this.pgUid();
      await chown(dir, uid, gid);
    }
    this.log(`initdb ${site} (${dir})`);
    await this.asPostgres('initdb', ['-D', dir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '-N']);
    const durable = this.options.durable ?? true;
    const conf = [
      '',
      '# ESS local cluster',
      `port = ${this.ports[site]}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${this.socketDir(site)}'`,
      `max_connections = 200`,
      `shared_buffers = 64MB`,
      `fsync = ${durable ? 'on' : 'off'}`,
      `synchronous_commit = ${durable ? 'on' : 'off'}`,
      `logging_collector = off`,
      `log_min_messages = warning`,
      '',
    ].join('\n');
    await writeFile(path.join(dir, 'postgresql.auto.conf'), conf, { flag: 'a' });
  }

  private socketDir(site: SiteId): string {
    // Unix socket paths are limited to 107 bytes; past that, TCP only.
    const dir = path.join(this.siteDir(site), 'run');
    return dir.length + 20 < 107 ? dir : '';
  }

  /** Starts one site's server (initialising it if needed); no-op when already running. */
  async startSite(site: SiteId): Promise<void> {
    await this.initSite(site);
    if (this.sitePid(site)) return;
    const dir = this.siteDir(site);
    const sock = this.socketDir(site);
    if (sock) {
      await mkdir(sock, { recursive: true });
      if (isRoot()) {
        const { uid, gid } = await this.pgUid();
        await chown(sock, uid, gid);
      }
    }
    // A stale pid file of a killed server is removed by pg_ctl/postgres itself. The port may be
    // held for a moment by an outgoing connection (55431.. lies in Linux's ephemeral range): retry.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.asPostgres('pg_ctl', ['-D', dir, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start']);
        break;
      } catch (err) {
        const log = existsSync(path.join(dir, 'server.log')) ? readFileSync(path.join(dir, 'server.log'), 'utf8').slice(-2000) : '';
        if (attempt >= 10 || !log.includes('Address already in use')) throw err;
        this.log(`${site}: port ${this.ports[site]} is busy; retrying in 1 s`);
        await sleep(1000);
      }
    }
    await this.ensureDatabase(site);
  }

  private async ensureDatabase(site: SiteId): Promise<void> {
    const client = new pg.Client({ connectionString: this.siteUrl(site, 'postgres'), connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      const { rowCount } = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'ess'`);
      if (!rowCount) await client.query('CREATE DATABASE ess');
    } finally {
      await client.end();
    }
  }

  /** Stops one site's server (fast shutdown); no-op when not running. */
  async stopSite(site: SiteId): Promise<void> {
    if (!this.sitePid(site)) return;
    await this.asPostgres('pg_ctl', ['-D', this.siteDir(site), '-m', 'fast', '-w', '-t', '60', 'stop']).catch(async (err) => {
      const pid = this.sitePid(site);
      if (pid) process.kill(pid, 'SIGKILL');
      else throw err;
    });
  }

  /** Starts Redis (AOF on, `appendfsync everysec`, `noeviction`); no-op when already running. */
  async startRedis(): Promise<void> {
    if (this.redisPid()) return;
    const dir = path.join(this.home, 'redis');
    await mkdir(dir, { recursive: true });
    const bin = findRedisServer();
    await run(bin, [
      '--port', String(this.ports.redis),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--maxmemory-policy', 'noeviction',
      '--daemonize', 'yes',
      '--pidfile', path.join(dir, 'redis.pid'),
      '--logfile', path.join(dir, 'redis.log'),
    ]);
    for (let i = 0; i < 100 && !this.redisPid(); i++) await sleep(50);
    await this.waitRedisReady();
  }

  private async waitRedisReady(): Promise<void> {
    const { Redis } = await import('ioredis');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const r = new Redis(this.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
      r.on('error', () => undefined);
      try {
        await r.connect();
        // While the AOF loads, Redis answers LOADING: wait for a real answer.
        await r.ping();
        r.disconnect();
        return;
      } catch {
        r.disconnect();
        await sleep(100);
      }
    }
    throw new Error(`Redis on port ${this.ports.redis} did not become ready in 30 s (see ${path.join(this.home, 'redis', 'redis.log')})`);
  }

  /** Stops Redis (SIGTERM: the AOF is flushed); no-op when not running. */
  async stopRedis(): Promise<void> {
    const pid = this.redisPid();
    if (!pid) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && isAlive(pid); i++) await sleep(50);
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }

  /** Starts every server; returns what was started now (the rest was running already). */
  async start(): Promise<string[]> {
    findPgBin();
    findRedisServer();
    await mkdir(this.home, { recursive: true });
    await this.grantTraversal(this.home);
    const started: string[] = [];
    await Promise.all(
      SITES.map(async (site) => {
        const was = this.sitePid(site);
        await this.startSite(site);
        if (!was) started.push(site);
        this.log(`${site} ${was ? 'already running' : 'started'} on 127.0.0.1:${this.ports[site]}`);
      }),
    );
    const redisWas = this.redisPid();
    await this.startRedis();
    if (!redisWas) started.push('redis');
    this.log(`redis ${redisWas ? 'already running' : 'started'} on 127.0.0.1:${this.ports.redis} (AOF everysec, noeviction)`);
    return started.sort();
  }

  /** Stops the named servers (default: all). */
  async stop(which: readonly string[] = [...SITES, 'redis']): Promise<void> {
    await Promise.all(which.filter((w): w is SiteId => w !== 'redis').map((s) => this.stopSite(s)));
    if (which.includes('redis')) await this.stopRedis();
  }

  /** Stops everything and deletes the data folder (tests). */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.home, { recursive: true, force: true });
  }

}
