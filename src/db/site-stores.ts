import type { Config } from '../config/config.js';
import { SITES, type SiteId } from '../domain/fragmentation.js';
import type { Logger } from '../logging/logger.js';
import { MssqlSiteStore } from './mssql/mssql-site-store.js';
import { PostgresSiteStore } from './postgres/postgres-site-store.js';
import type { SiteStore } from './site-store.js';

/** One store per site. */
export type SiteStores = Readonly<Record<SiteId, SiteStore>>;

/**
 * Opens a store for every site with the configured driver (`DB_DRIVER`: `postgres` → `pg`,
 * `mssql` → SQL Server through `mssql`). Pools connect lazily, on first use.
 * @throws Error when a site URL does not suit the driver (an `mssql://` URL for SQL Server)
 */
export function openSiteStores(config: Config, logger: Logger): SiteStores {
  const out = {} as Record<SiteId, SiteStore>;
  for (const site of SITES) {
    const options = {
      site,
      url: config.siteUrls[site],
      poolSize: config.db.poolSize,
      connectTimeoutMs: config.db.connectTimeoutMs,
      statementTimeoutMs: config.db.statementTimeoutMs,
      onPoolError: (err: Error) => logger.warn({ err, site }, 'site.pool_error'),
    };
    out[site] = config.driver === 'mssql' ? new MssqlSiteStore(options) : new PostgresSiteStore(options);
  }
  return Object.freeze(out);
}

/** Closes every store. */
export async function closeSiteStores(stores: SiteStores): Promise<void> {
  await Promise.all(Object.values(stores).map((s) => s.close()));
}
