/**
 * `npm run backup -- <site> [--out <dir>]`: dumps a site (`db1`..`db4`, or a region `TP1`..`TP3`
 * meaning its primary) with `pg_dump` and writes a sidecar JSON with the instant the dump
 * represents, under `.ess/backups/` by default. `npm run recover` starts from the newest one.
 * Exit 0 done, 2 bad arguments or a failed dump.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../config/config.js';
import { isRegion, isSite, PLACEMENT, type SiteId } from '../domain/fragmentation.js';
import { backupSite } from '../recovery/backup.js';

const USAGE = 'usage: npm run backup -- <site: db1..db4 or TP1..TP3> [--out <dir>]';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`backup: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [target, ...extra] = args.positionals;
  if (!target || extra.length) {
    process.stderr.write(`backup: give exactly one site\n${USAGE}\n`);
    return 2;
  }
  const site: SiteId | undefined = isSite(target) ? target : isRegion(target) ? PLACEMENT[target].primary : undefined;
  if (!site) {
    process.stderr.write(`backup: unknown site "${target}": expected db1..db4 or TP1..TP3\n`);
    return 2;
  }
  const config = loadConfigOrExit();
  if (config.driver !== 'postgres') {
    process.stderr.write(`backup: DB_DRIVER=${config.driver}: use the server's own backup (BACKUP DATABASE) and give recover the instant\n`);
    return 2;
  }
  const outDir = path.resolve(args.values.out ?? path.join(config.home, 'backups'));
  const info = await backupSite({ site, url: config.siteUrls[site], outDir });
  process.stdout.write(`backup: ${site} at ${info.instant} (${info.bytes} bytes)\n  dump:    ${info.file}\n  sidecar: ${info.file}.json\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`backup: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
