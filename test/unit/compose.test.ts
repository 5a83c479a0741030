/**
 * docker-compose.yml checked against what the code expects (no Docker engine runs here): services,
 * ports, health checks, volumes, the files it mounts, the environment the application reads
 * (src/config/config.ts) and that no secret has a literal value or a default.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, PROJECT_ROOT } from '../../src/config/config.js';
import { parseMssqlUrl } from '../../src/db/mssql/connection-config.js';
import { closeSiteStores, openSiteStores } from '../../src/db/site-stores.js';
import { createLogger } from '../../src/logging/logger.js';

const read = (p: string) => readFileSync(path.join(PROJECT_ROOT, p), 'utf8');
const RAW = read('docker-compose.yml');
type Service = Record<string, any>;
const COMPOSE = parse(RAW, { merge: true }) as { name: string; services: Record<string, Service>; volumes: Record<string, unknown> };
const S = COMPOSE.services;
const SECRETS = ['MSSQL_SA_PASSWORD', 'REDIS_PASSWORD', 'ADMIN_TOKEN', 'GRAFANA_ADMIN_PASSWORD'];

/** The variables of `EnvSchema` in src/config/config.ts (read from the source: the schema is not exported). */
function envSchemaKeys(): string[] {
  const src = read('src/config/config.ts');
  const body = /const EnvSchema = z\.object\(\{\n([\s\S]*?)\n\}\);/.exec(src)?.[1];
  if (!body) throw new Error('EnvSchema not found in src/config/config.ts');
  return [...body.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!);
}

/** Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `$$`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}/g, (m, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (m === '$$') return '$';
    const v = env[name!];
    if (op === ':?' || op === '?') {
      if (v === undefined || (op === ':?' && v === '')) throw new Error(`required variable ${name} is missing a value: ${arg}`);
      return v;
    }
    if (op === ':-') return v === undefined || v === '' ? arg! : v;
    if (op === '-') return v === undefined ? arg! : v;
    return v ?? '';
  });
}

const SAMPLE_ENV = { MSSQL_SA_PASSWORD: 'Sample0Pass9', REDIS_PASSWORD: 'redisSample1', ADMIN_TOKEN: 'admin-token-sample', GRAFANA_ADMIN_PASSWORD: 'grafanaSample2' };
const appEnv = (service: string, env: Record<string, string> = SAMPLE_ENV) =>
  Object.fromEntries(Object.entries(S[service]!['environment'] as Record<string, string>).map(([k, v]) => [k, interpolate(String(v), env)]));

const hostPorts = (svc: Service): string[] => (svc['ports'] ?? []).map((p: string) => String(p).split(':').slice(0, -1).join(':'));

describe('docker-compose.yml', () => {
  it('has the services of the production stack', () => {
    expect(COMPOSE.name).toBe('ess');
    expect(Object.keys(S).sort()).toEqual(['alloy', 'db1', 'db2', 'db3', 'db4', 'gateway', 'grafana', 'loki', 'ollama', 'ollama-pull', 'redis', 'schema', 'workers']);
  });

  it('db1..db4: SQL Server 2022 with health checks, a volume each and the EULA accepted', () => {
    ['db1', 'db2', 'db3', 'db4'].forEach((db, i) => {
      const svc = S[db]!;
      expect(svc['image']).toBe('mcr.microsoft.com/mssql/server:2022-latest');
      expect(svc['environment']['ACCEPT_EULA']).toBe('Y');
      expect(svc['healthcheck']['test'].join(' ')).toMatch(/sqlcmd .*-Q "SELECT 1"/);
      expect(svc['healthcheck']['test'].join(' ')).toContain('$$MSSQL_SA_PASSWORD');
      expect(svc['volumes']).toEqual([`${db}-data:/var/opt/mssql`]);
      expect(COMPOSE.volumes).toHaveProperty(`${db}-data`);
      expect(svc['ports']).toEqual([`127.0.0.1:${14331 + i}:1433`]);
    });
  });

  it('a one-shot schema job runs the mssql migrations after db1..db4 are healthy; the app waits for it', () => {
    expect(S['schema']!['command']).toEqual(['node', '--import', 'tsx', 'src/db/mssql/schema-job.ts']);
    expect(S['schema']!['restart']).toBe('no');
    expect(S['schema']!['depends_on']).toEqual(Object.fromEntries(['db1', 'db2', 'db3', 'db4'].map((d) => [d, { condition: 'service_healthy' }])));
    for (const app of ['gateway', 'workers']) {
      expect(S[app]!['depends_on']['schema']).toEqual({ condition: 'service_completed_successfully' });
      expect(S[app]!['depends_on']['redis']).toEqual({ condition: 'service_healthy' });
    }
  });

  it('Redis: AOF fsync every second, noeviction, password, health check, volume', () => {
    const cmd = S['redis']!['command'].join(' ');
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--appendfsync everysec');
    expect(cmd).toContain('--maxmemory-policy noeviction');
    expect(cmd).toContain('--requirepass "$$REDIS_PASSWORD"');
    expect(S['redis']!['healthcheck']['test'].join(' ')).toContain('redis-cli ping');
    expect(S['redis']!['volumes']).toEqual(['redis-data:/data']);
  });

  it('ports as in the original project: gateway 9999, Grafana 3300, Loki 3200; workers scale (no name, no host port)', () => {
    expect(hostPorts(S['gateway']!)).toEqual(['9999']);
    expect(S['gateway']!['ports']).toEqual(['9999:9999']);
    expect(hostPorts(S['grafana']!)).toEqual(['3300']);
    expect(S['loki']!['ports']).toEqual(['127.0.0.1:3200:3100']);
    expect(S['workers']!['ports']).toBeUndefined();
    for (const [name, svc] of Object.entries(S)) expect(svc['container_name'], name).toBeUndefined();
    const used = Object.values(S).flatMap((svc) => hostPorts(svc).map((p) => p.split(':').at(-1)));
    expect(new Set(used).size).toBe(used.length);
    expect(appEnv('gateway')['PORT']).toBe('9999');
    expect(appEnv('gateway')['HOST']).toBe('0.0.0.0');
  });

  it('health checks on every long-running service that can run one (the Loki 3 image is distroless)', () => {
    for (const name of ['db1', 'db2', 'db3', 'db4', 'redis', 'grafana', 'ollama', 'gateway']) expect(S[name]!['healthcheck'], name).toBeDefined();
    expect(S['gateway']!['healthcheck']['test'].join(' ')).toContain('http://127.0.0.1:9999/healthz');
    expect(read('src/http/routes/status-routes.ts')).toContain("app.get('/healthz'");
  });

  it('Ollama with a one-shot job pulling qwen2.5-coder:7b; the app points at it', () => {
    expect(S['ollama-pull']!['command']).toEqual(['pull', '${OLLAMA_MODEL:-qwen2.5-coder:7b}']);
    expect(interpolate(S['ollama-pull']!['command'][1], {})).toBe('qwen2.5-coder:7b');
    expect(S['ollama-pull']!['environment']['OLLAMA_HOST']).toBe('http://ollama:11434');
    expect(S['ollama-pull']!['depends_on']).toEqual({ ollama: { condition: 'service_healthy' } });
    expect(S['ollama']!['volumes']).toEqual(['ollama-data:/root/.ollama']);
    expect(appEnv('workers')['OLLAMA_URL']).toBe('http://ollama:11434');
  });

  it('every file it mounts or runs exists in the repo', () => {
    for (const [name, svc] of Object.entries(S)) {
      for (const v of (svc['volumes'] ?? []) as string[]) {
        const src = v.split(':')[0]!;
        if (src.startsWith('./')) expect(existsSync(path.join(PROJECT_ROOT, src)), `${name}: ${src}`).toBe(true);
        else if (!src.startsWith('/')) expect(COMPOSE.volumes, `${name}: volume ${src}`).toHaveProperty(src);
      }
      const cmd = svc['command'] as string[] | undefined;
      if (cmd?.[0] === 'node') expect(existsSync(path.join(PROJECT_ROOT, cmd[3]!)), `${name}: ${cmd[3]}`).toBe(true);
      if (svc['build']) expect(svc['build']).toBe('.');
    }
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^FROM node:20-slim$/m);
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/COPY sql \.\/sql/);
  });

  it('Grafana is provisioned from files: the Loki data source and the dashboard (writes per region, failovers, replication lag, errors)', () => {
    expect(S['grafana']!['volumes']).toEqual(
      expect.arrayContaining(['./deploy/grafana/provisioning:/etc/grafana/provisioning:ro', './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro']),
    );
    const ds = parse(read('deploy/grafana/provisioning/datasources/loki.yaml'));
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'loki', uid: 'ess-loki', url: 'http://loki:3100', access: 'proxy' })]);
    const provider = parse(read('deploy/grafana/provisioning/dashboards/ess.yaml'));
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
    const dash = JSON.parse(read('deploy/grafana/dashboards/ess-overview.json'));
    const titles = dash.panels.map((p: { title: string }) => p.title);
    expect(titles).toEqual(expect.arrayContaining(['Writes applied per region', 'Failovers and failbacks', 'Replication lag per region (accepted → replica applied)', 'Errors per service']));
    for (const p of dash.panels) {
      expect(p.datasource, p.title).toEqual({ type: 'loki', uid: 'ess-loki' });
      for (const t of p.targets) expect(t.expr, p.title).toMatch(/\{app="ess", stream="(op-log|process)"/);
    }
    const exprs = dash.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((t) => t.expr)).join('\n');
    // The labels the op log sets (src/logging/op-log.ts) and the line the route change writes.
    const opLog = read('src/logging/op-log.ts');
    expect(opLog).toContain("labels: { app: 'ess', stream: 'op-log' }");
    expect(opLog).toContain("propsToLabels: ['region', 'site', 'msg']");
    expect(exprs).toContain('msg="write.applied"');
    expect(exprs).toContain('msg="replica.applied"');
    expect(exprs).toContain('msg="routing.changed"');
    expect(read('src/routing/route-changes.ts')).toContain("'routing.changed'");
    expect(exprs).toContain('level >= 50');
    expect(read('deploy/alloy/config.alloy')).toContain('labels     = { app = "ess", stream = "process" }');
  });

  it('Loki: the mounted config listens where the port mapping and the app point', () => {
    const loki = parse(read('deploy/loki/loki-config.yaml'));
    expect(loki.server.http_listen_port).toBe(3100);
    expect(loki.auth_enabled).toBe(false);
    expect(S['loki']!['command']).toEqual(['-config.file=/etc/loki/loki-config.yaml']);
    expect(appEnv('workers')['LOKI_URL']).toBe('http://loki:3100');
    expect(read('deploy/alloy/config.alloy')).toContain('url = "http://loki:3100/loki/api/v1/push"');
  });

  it('the app environment is what src/config/config.ts reads, and parses into an mssql configuration', async () => {
    const keys = envSchemaKeys();
    expect(keys).toEqual(expect.arrayContaining(['DB_DRIVER', 'DB1_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'LOKI_URL']));
    for (const app of ['gateway', 'workers', 'schema']) {
      const env = appEnv(app);
      for (const k of Object.keys(env)) expect(keys, `${app}: ${k} is not read by the app`).toContain(k);
      const config = loadConfig(env);
      expect(config.driver).toBe('mssql');
      expect(config.localCluster).toBe(false);
      expect(config.redisUrl).toBe('redis://:redisSample1@redis:6379');
      expect(config.loki?.url).toBe('http://loki:3100');
      expect(config.logDir).toBe('/var/lib/ess/logs');
      (['db1', 'db2', 'db3', 'db4'] as const).forEach((site) =>
        expect(parseMssqlUrl(config.siteUrls[site])).toEqual({ server: site, port: 1433, database: 'ess', user: 'sa', password: 'Sample0Pass9', encrypt: true, trustServerCertificate: true }),
      );
      await closeSiteStores(openSiteStores(config, createLogger({ level: 'silent', name: 'test' })));
    }
    // Every variable the app reads is provided to the containers or documented for operators.
    const documented = read('.env.example');
    const provided = Object.keys(appEnv('gateway'));
    for (const k of keys) expect(provided.includes(k) || new RegExp(`^#? ?${k}=`, 'm').test(documented), `${k} neither provided nor documented`).toBe(true);
    for (const k of keys) expect(documented, `${k} undocumented in .env.example`).toMatch(new RegExp(`^#? ?${k}=`, 'm'));
    // And every variable compose interpolates is documented too.
    const interpolated = new Set([...RAW.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    for (const k of interpolated) expect(documented, `${k} undocumented in .env.example`).toMatch(new RegExp(`^#? ?${k}=`, 'm'));
  });

  it('no default passwords: every secret is required (${VAR:?…}), never literal, never defaulted', () => {
    for (const secret of SECRETS) {
      const uses = [...RAW.matchAll(new RegExp(`\\$\\{${secret}([^}]*)\\}`, 'g'))].map((m) => m[1]!);
      expect(uses.length, secret).toBeGreaterThan(0);
      for (const u of uses) expect(u, secret).toMatch(/^:\?/);
      expect(read('.env.example'), secret).toMatch(new RegExp(`^${secret}=$`, 'm'));
    }
    for (const [name, svc] of Object.entries(S)) {
      for (const [k, v] of Object.entries((svc['environment'] ?? {}) as Record<string, unknown>)) {
        if (/(PASSWORD|TOKEN|SECRET|_AUTH)$/.test(k)) expect(String(v), `${name}.${k}`).toMatch(/^\$\{[A-Z0-9_]+:\?[^}]*\}$/);
        if (/:\/\/[^/\s]*:[^@/\s]*@/.test(String(v))) expect(String(v), `${name}.${k}: credentials in a URL`).toMatch(/:\/\/[^:]*:\$\{[A-Z0-9_]+:\?[^}]*\}@/);
      }
    }
    expect(RAW).not.toMatch(/Password=|PASSWORD: ['"]?[A-Za-z0-9]/);
    // compose refuses to start without them, naming the variable.
    for (const secret of SECRETS) {
      const env: Record<string, string> = { ...SAMPLE_ENV };
      delete env[secret];
      expect(() => interpolate(RAW, env), secret).toThrow(new RegExp(`required variable ${secret} is missing a value: set ${secret}`));
    }
    expect(() => interpolate(RAW, SAMPLE_ENV)).not.toThrow();
  });
});
