/**
 * Site backups: a `pg_dump` of a site's database plus a sidecar JSON recording the instant the
 * dump represents, so that a later recovery knows where to start (`--since` defaults to it).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findPgBin } from '../cluster/local-cluster.js';
import { regionsOnSite, type SiteId } from '../domain/fragmentation.js';

const run = promisify(execFile);

/** The sidecar of a backup (`<dump>.json`). */
export interface BackupInfo {
  readonly version: 1;
  readonly site: SiteId;
  readonly regions: readonly string[];
  /**
   * ISO instant the dump represents: taken just before `pg_dump` starts, so every change committed
   * before it is in the dump (later ones may be too; replaying them changes nothing).
   */
  readonly instant: string;
  /** The dump file (absolute path), `pg_dump --format=custom`. */
  readonly file: string;
  readonly format: 'pg_dump-custom';
  readonly database: string;
  readonly finishedAt: string;
  readonly bytes: number;
}

/** Options of {@link backupSite}. */
export interface BackupOptions {
  readonly site: SiteId;
  /** Connection URL of the site's database (not written to the sidecar). */
  readonly url: string;
  /** Folder of the dumps. */
  readonly outDir: string;
  /** `pg_dump` binary. @defaultValue `PG_DUMP`, else `pg_dump` beside the server binaries */
  readonly pgDump?: string;
  /** @defaultValue 600000 ms */
  readonly timeoutMs?: number;
}

/**
 * Finds a PostgreSQL client tool (`pg_dump`, `pg_restore`, `psql`): beside the server binaries,
 * then in Debian's `/usr/lib/postgresql/<v>/bin` (newest first), then on PATH.
 * @throws Error saying what to install
 */
export function findPgTool(name: 'pg_dump' | 'pg_restore' | 'psql'): string {
  const dirs: string[] = [];
  try {
    dirs.push(findPgBin());
  } catch {
    // no server binaries: the client may still be installed
  }
  if (existsSync('/usr/lib/postgresql')) {
    for (const v of readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))) dirs.push(`/usr/lib/postgresql/${v}/bin`);
  }
  dirs.push(...(process.env['PATH'] ?? '').split(':').filter(Boolean));
  for (const d of dirs) if (existsSync(path.join(d, name))) return path.join(d, name);
  throw new Error(`${name} was not found (looked in ${dirs.join(', ')}): install the PostgreSQL client (apt-get install -y postgresql-client)`);
}

/** Finds `pg_dump`: `PG_DUMP`, else {@link findPgTool}. */
export function findPgDump(): string {
  return process.env['PG_DUMP'] || findPgTool('pg_dump');
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
}

/**
 * Dumps a site with `pg_dump --format=custom` and writes the sidecar beside it.
 * @returns the sidecar's contents
 * @throws Error with pg_dump's message when the dump fails (no files are left behind)
 */
export async function backupSite(options: BackupOptions): Promise<BackupInfo> {
  await mkdir(options.outDir, { recursive: true });
  const instant = new Date();
  const file = path.resolve(options.outDir, `${options.site}-${stamp(instant)}.dump`);
  const database = new URL(options.url).pathname.replace(/^\//, '') || 'postgres';
  try {
    await run(options.pgDump ?? findPgDump(), ['--format=custom', '--no-owner', '--no-privileges', `--file=${file}`, `--dbname=${options.url}`], {
      timeout: options.timeoutMs ?? 600_000,
    });
  } catch (err) {
    await rm(file, { force: true });
    const e = err as { stderr?: string; message: string };
    throw new Error(`pg_dump of ${options.site} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
  const { size } = await import('node:fs/promises').then((fs) => fs.stat(file));
  const info: BackupInfo = {
    version: 1,
    site: options.site,
    regions: regionsOnSite(options.site),
    instant: instant.toISOString(),
    file,
    format: 'pg_dump-custom',
    database,
    finishedAt: new Date().toISOString(),
    bytes: size,
  };
  await writeFile(`${file}.json`, `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

/** The newest backup of a site in a folder (by its instant), or undefined. */
export async function latestBackup(dir: string, site: SiteId): Promise<BackupInfo | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  let best: BackupInfo | undefined;
  for (const n of names.filter((x) => x.startsWith(`${site}-`) && x.endsWith('.dump.json'))) {
    try {
      const info = JSON.parse(await readFile(path.join(dir, n), 'utf8')) as BackupInfo;
      if (info.site === site && !Number.isNaN(new Date(info.instant).getTime()) && (!best || info.instant > best.instant)) best = info;
    } catch {
      // an unreadable sidecar is not a backup to start from
    }
  }
  return best;
}
