/**
 * `npm start`: the one-command local deployment. Starts (or reuses) the local cluster under
 * `.ess/` (unless `DB1_URL`..`DB4_URL` and `REDIS_URL` point elsewhere), applies the schema to all
 * four sites, runs the gateway and the workers as separate processes (pids in `.ess/run/`),
 * prints the URLs, restarts a process that dies, and on Ctrl-C/SIGTERM stops everything it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCAL_PORTS, PROJECT_ROOT, loadConfigOrExit, serviceEntry, type Config } from '../config/config.js';
import { LocalCluster, MissingBinaryError } from '../cluster/local-cluster.js';
import { closeSiteStores, openSiteStores } from '../db/site-stores.js';
import { SITES } from '../domain/fragmentation.js';
import { createLogger } from '../logging/logger.js';

const say = (line: string) => process.stdout.write(`[ess] ${line}\n`);

/** Applies the schema migrations to every site; returns what each applied. */
export async function migrateAll(config: Config): Promise<Record<string, string[]>> {
  const stores = openSiteStores(config, createLogger({ level: 'warn', name: 'migrate' }));
  try {
    const out: Record<string, string[]> = {};
    await Promise.all(SITES.map(async (s) => (out[s] = await stores[s].migrate())));
    return out;
  } finally {
    await closeSiteStores(stores);
  }
}

interface Managed {
  readonly name: 'gateway' | 'workers';
  readonly nodeArgs: string[];
  readonly entry: string;
  child?: ChildProcess;
  restarts: number;
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const runDir = path.join(config.home, 'run');
  await mkdir(runDir, { recursive: true });
  await mkdir(config.logDir, { recursive: true });

  let cluster: LocalCluster | undefined;
  let started: string[] = [];
  if (config.localCluster) {
    cluster = new LocalCluster({ home: config.home, ports: LOCAL_PORTS, log: say });
    try {
      started = await cluster.start();
    } catch (err) {
      if (err instanceof MissingBinaryError) {
        process.stderr.write(`[ess] ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
  } else {
    say('using the sites and Redis given in DB1_URL..DB4_URL and REDIS_URL');
  }
  const applied = await migrateAll(config);
  for (const s of SITES) say(`schema on ${s}: ${applied[s]!.length ? `applied ${applied[s]!.join(', ')}` : 'up to date'}`);

  let stopping = false;
  const procs: Managed[] = [
    { name: 'workers', ...serviceEntry('workers'), restarts: 0 },
    { name: 'gateway', ...serviceEntry('gateway'), restarts: 0 },
  ];
  const launch = (p: Managed) => {
    const out = createWriteStream(path.join(config.logDir, `${p.name}.out.log`), { flags: 'a' });
    const child = spawn(process.execPath, [...p.nodeArgs, p.entry], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ESS_HOME: config.home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${p.name}] ${d}`));
    p.child = child;
    void writeFile(path.join(runDir, `${p.name}.pid`), `${child.pid}\n`);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      p.restarts++;
      say(`${p.name} (pid ${child.pid}) exited (${signal ?? code}); restarting in 1 s [restart ${p.restarts}]`);
      setTimeout(() => !stopping && launch(p), 1000);
    });
  };
  procs.forEach(launch);

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    await Promise.all(
      procs.map(async (p) => {
        const c = p.child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        c.kill('SIGTERM');
        for (let i = 0; i < 100 && c.exitCode === null && c.signalCode === null; i++) await sleep(100);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }),
    );
    for (const p of procs) await rm(path.join(runDir, `${p.name}.pid`), { force: true });
    if (cluster && started.length) {
      say(`stopping ${started.join(', ')}`);
      await cluster.stop(started);
    }
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  // Wait for /healthz.
  const base = `http://${config.host}:${config.port}`;
  let healthy = false;
  for (let i = 0; i < 120 && !stopping; i++) {
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) {
        healthy = true;
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  if (stopping) return;
  say(healthy ? 'ready' : `not healthy after 30 s: see ${base}/healthz and ${config.logDir}/*.out.log`);
  say(`gateway      ${base}`);
  say(`health       ${base}/healthz`);
  say(`status       ${base}/api/status`);
  say(`metrics      ${base}/metrics`);
  say(config.adminToken ? `Bull Board   ${base}/admin/queues  (user any, password = ADMIN_TOKEN)` : 'Bull Board   off (set ADMIN_TOKEN to turn admin routes on)');
  if (cluster) {
    for (const s of SITES) say(`${s}          psql ${cluster.siteUrl(s)}`);
    say(`redis        redis-cli -p ${LOCAL_PORTS.redis}`);
  }
  say(`op logs      ${config.logDir}`);
  say(`data         ${config.home}${existsSync(config.home) ? '' : ' (new)'}`);
  say('Ctrl-C stops everything this command started.');
}

main().catch((err) => {
  process.stderr.write(`[ess] start failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
