import path from 'node:path';
import { z } from 'zod';

/**
 * Reads a boolean from the environment explicitly: `true/1/yes/on` and `false/0/no/off`.
 * (`z.coerce.boolean()` would read the string "false" as true.)
 */
const envBoolean = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const s = v.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: `expected true/false, got "${v}"` });
      return z.NEVER;
    });

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);

/** The environment variables the code reads, with their rules and defaults. */
export const EnvSchema = z.object({
  ESS_HOME: z.string().optional(),
  ESS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only (no ":")')
    .default('ess'),
  DB_DRIVER: z.enum(['postgres', 'mssql']).default('postgres'),
  DB1_URL: z.string().optional(),
  DB2_URL: z.string().optional(),
  DB3_URL: z.string().optional(),
  DB4_URL: z.string().optional(),
  REDIS_URL: z.string().optional(),
  PORT: int(9999, 1),
  HOST: z.string().default('127.0.0.1'),
  ADMIN_TOKEN: z.string().min(12, 'must be at least 12 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_DIR: z.string().optional(),
  LOKI_URL: z.string().url().optional(),
  LOKI_USER: z.string().optional(),
  LOKI_PASSWORD: z.string().optional(),
  TIME_ZONE: z.string().default('Asia/Ho_Chi_Minh'),
  QUEUE_PARTITIONS: int(8, 1),
  JOURNAL_RETENTION_DAYS: int(7, 1),
  IDEMPOTENCY_TTL_HOURS: int(24, 1),
  DB_CONNECT_TIMEOUT_MS: int(2000, 100),
  DB_STATEMENT_TIMEOUT_MS: int(10000, 100),
  DB_POOL_SIZE: int(16, 1),
  PROBE_INTERVAL_MS: int(500, 50),
  PROBE_TIMEOUT_MS: int(400, 50),
  FAILOVER_AFTER: int(3, 1),
  FAILBACK_AFTER: int(5, 1),
  WAIT_MAX_MS: int(60000, 0),
  CHECK_REDIS_POLICY: envBoolean(true),
  OLLAMA_URL: z.string().url().default('http://127.0.0.1:11434'),
  OLLAMA_MODEL: z.string().min(1).default('qwen2.5-coder:7b'),
  OLLAMA_TIMEOUT_MS: int(60000, 100),
});

/** The four sites: db1..db3 hold the regional fragments, db4 the backup replica of all three. */
export type SiteUrls = Readonly<Record<'db1' | 'db2' | 'db3' | 'db4', string>>;

/** Local cluster ports (DESIGN.md section 8): db1..db4 on 55431..55434, Redis on 56379. */
export const LOCAL_PORTS = Object.freeze({ db1: 55431, db2: 55432, db3: 55433, db4: 55434, redis: 56379 });

/** Typed, frozen configuration, parsed once from the environment. */
export interface Config {
  /** Data folder of the local cluster (`.ess/` in the project unless `ESS_HOME`). */
  readonly home: string;
  /** Namespace of every Redis key and BullMQ queue of this deployment. */
  readonly prefix: string;
  readonly driver: 'postgres' | 'mssql';
  readonly siteUrls: SiteUrls;
  readonly redisUrl: string;
  /** True when no `DBn_URL`/`REDIS_URL` was given: `npm start` runs its own servers. */
  readonly localCluster: boolean;
  readonly port: number;
  readonly host: string;
  /** Admin token for `/admin/*` and Bull Board; undefined turns admin routes off. */
  readonly adminToken: string | undefined;
  readonly logLevel: string;
  /** Folder of the op log files (`TP1-2025-11-26.log`). */
  readonly logDir: string;
  readonly loki: { url: string; user?: string; password?: string } | undefined;
  /** IANA time zone of the utility: log file dates and times without an offset. */
  readonly timeZone: string;
  /** Queue partitions per region: per-entity order with parallelism across partitions. */
  readonly partitions: number;
  readonly journalRetentionDays: number;
  readonly idempotencyTtlHours: number;
  /** Database timeouts, ms. A hung site must never block a job forever. */
  readonly db: { connectTimeoutMs: number; statementTimeoutMs: number; poolSize: number };
  readonly probe: { intervalMs: number; timeoutMs: number; failoverAfter: number; failbackAfter: number };
  /** Upper bound for `?wait=<ms>`, ms. */
  readonly waitMaxMs: number;
  readonly checkRedisPolicy: boolean;
  /**
   * Local model for recovery of foreign log entries (DESIGN.md section 5): Ollama's URL, the model
   * name and the timeout of one request, ms.
   */
  readonly ollama: { url: string; model: string; timeoutMs: number };
}

/** Thrown when the environment is invalid; `problems` lists every one. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** The project root (the folder holding package.json). */
export const PROJECT_ROOT = ((here: string) => (path.basename(here) === 'dist' ? path.dirname(here) : here))(path.resolve(new URL('../..', import.meta.url).pathname));

/** Default V8 old-space limit of the gateway and worker processes, MB (`ESS_SERVICE_HEAP_MB`). */
export const DEFAULT_SERVICE_HEAP_MB = 128;

/**
 * How to start a service process (`gateway`, `workers`): the compiled JavaScript under `dist/`
 * when `ESS_COMPILED=1` (set by `npm start` and `npm run bench`, which build it first: about
 * 40 MB less memory per process than compiling TypeScript on the fly, docs/benchmark.md),
 * otherwise the TypeScript source through tsx. The V8 heap is capped at `ESS_SERVICE_HEAP_MB`
 * (default {@link DEFAULT_SERVICE_HEAP_MB}; `0` leaves Node's default): without a cap V8 lets
 * garbage grow to hundreds of MB before collecting it (peak RSS 245 + 253 MB after 100,000
 * writes, 156 + 150 MB with 96 MB caps, at no measurable CPU cost: docs/benchmark.md).
 * @returns the node arguments before any of the caller's own
 * @throws Error when `ESS_SERVICE_HEAP_MB` is not a whole number
 */
export function serviceEntry(service: 'gateway' | 'workers', env: NodeJS.ProcessEnv = process.env): { nodeArgs: string[]; entry: string } {
  const rel = service === 'gateway' ? ['src', 'gateway'] : ['workers', 'index'];
  const raw = env['ESS_SERVICE_HEAP_MB'];
  const heapMb = raw === undefined || raw === '' ? DEFAULT_SERVICE_HEAP_MB : Number(raw);
  if (!Number.isInteger(heapMb) || heapMb < 0) throw new Error(`ESS_SERVICE_HEAP_MB must be a whole number of MB (0 for Node's default), got "${raw}"`);
  const heap = heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : [];
  if (env['ESS_COMPILED'] === '1') return { nodeArgs: heap, entry: `${path.join(PROJECT_ROOT, 'dist', ...rel)}.js` };
  return { nodeArgs: [...heap, '--import', 'tsx'], entry: `${path.join(PROJECT_ROOT, ...rel)}.ts` };
}

/**
 * Parses the environment into a frozen {@link Config}.
 * @throws ConfigError listing every invalid variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const home = path.resolve(e.ESS_HOME ?? path.join(PROJECT_ROOT, '.ess'));
  const given = [e.DB1_URL, e.DB2_URL, e.DB3_URL, e.DB4_URL];
  const someGiven = given.some(Boolean);
  if (someGiven && !given.every(Boolean)) {
    throw new ConfigError(['DB1_URL..DB4_URL: give all four site URLs, or none to use the local cluster']);
  }
  if (e.DB_DRIVER === 'mssql' && !someGiven) {
    throw new ConfigError(['DB1_URL..DB4_URL: DB_DRIVER=mssql needs the four SQL Server site URLs (mssql://user:password@host:1433/ess)']);
  }
  const local = (port: number) => `postgres://postgres@127.0.0.1:${port}/ess`;
  const siteUrls: SiteUrls = Object.freeze({
    db1: e.DB1_URL ?? local(LOCAL_PORTS.db1),
    db2: e.DB2_URL ?? local(LOCAL_PORTS.db2),
    db3: e.DB3_URL ?? local(LOCAL_PORTS.db3),
    db4: e.DB4_URL ?? local(LOCAL_PORTS.db4),
  });
  if (e.LOKI_USER && !e.LOKI_PASSWORD) throw new ConfigError(['LOKI_PASSWORD: required with LOKI_USER']);
  return Object.freeze({
    home,
    prefix: e.ESS_PREFIX,
    driver: e.DB_DRIVER,
    siteUrls,
    redisUrl: e.REDIS_URL ?? `redis://127.0.0.1:${LOCAL_PORTS.redis}`,
    localCluster: !someGiven && !e.REDIS_URL,
    port: e.PORT,
    host: e.HOST,
    adminToken: e.ADMIN_TOKEN,
    logLevel: e.LOG_LEVEL,
    logDir: path.resolve(e.LOG_DIR ?? path.join(home, 'logs')),
    loki: e.LOKI_URL ? { url: e.LOKI_URL, user: e.LOKI_USER, password: e.LOKI_PASSWORD } : undefined,
    timeZone: e.TIME_ZONE,
    partitions: e.QUEUE_PARTITIONS,
    journalRetentionDays: e.JOURNAL_RETENTION_DAYS,
    idempotencyTtlHours: e.IDEMPOTENCY_TTL_HOURS,
    db: Object.freeze({
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      poolSize: e.DB_POOL_SIZE,
    }),
    probe: Object.freeze({
      intervalMs: e.PROBE_INTERVAL_MS,
      timeoutMs: e.PROBE_TIMEOUT_MS,
      failoverAfter: e.FAILOVER_AFTER,
      failbackAfter: e.FAILBACK_AFTER,
    }),
    waitMaxMs: e.WAIT_MAX_MS,
    checkRedisPolicy: e.CHECK_REDIS_POLICY,
    ollama: Object.freeze({ url: e.OLLAMA_URL, model: e.OLLAMA_MODEL, timeoutMs: e.OLLAMA_TIMEOUT_MS }),
  });
}

/** {@link loadConfig}, or print every problem and exit 2 (for command entry points). */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
