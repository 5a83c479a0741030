import type { Config } from '../config/config.js';
import { SITES, type SiteId } from '../domain/fragmentation.js';
import type { Logger } from '../logging/logger.js';
import { PostgresSiteStore } from './postgres/postgres-site-store.js';
import type { SiteStore } from './site-store.js';

/** One store per site. */
export type SiteStores = Readonly<Record<SiteId, SiteStore>>;

/**
 * Opens a store for every site with the configured driver (`DB_DRIVER`).
 * @throws Error for `mssql` until the SQL Server store lands (issue: SQL Server in production)
 */
export function openSiteStores(config: Config, logger: Logger): SiteStores {
  const out = {} as Record<SiteId, SiteStore>;
  for (const site of SITES) {
    if (config.driver !== 'postgres') throw new Error(`DB_DRIVER=${config.driver}: no site store for it yet`);
    out[site] = new PostgresSiteStore({
      site,
      url: config.siteUrls[site],
      poolSize: config.db.poolSize,
      connectTimeoutMs: config.db.connectTimeoutMs,
      statementTimeoutMs: config.db.statementTimeoutMs,
      onPoolError: (err) => logger.warn({ err, site }, 'site.pool_error'),
    });
  }
  return Object.freeze(out);
}

/** Closes every store. */
export async function closeSiteStores(stores: SiteStores): Promise<void> {
  await Promise.all(Object.values(stores).map((s) => s.close()));
}
