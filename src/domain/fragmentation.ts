/**
 * The fragmentation catalog: which site holds which region's fragment (DESIGN.md section 2).
 *
 * Every regional table is horizontally fragmented by region. `db1`..`db3` are the primary sites of
 * TP1..TP3; `db4` is the backup site holding a replica of every regional fragment.
 */

/** A region of the utility: TP1 (north), TP2 (centre), TP3 (south). */
export type Region = 'TP1' | 'TP2' | 'TP3';
/** A site: one database server. */
export type SiteId = 'db1' | 'db2' | 'db3' | 'db4';

/** All regions, in order. */
export const REGIONS: readonly Region[] = Object.freeze(['TP1', 'TP2', 'TP3']);
/** All sites, in order. */
export const SITES: readonly SiteId[] = Object.freeze(['db1', 'db2', 'db3', 'db4']);
/** The backup site: holds a replica of every region's fragment. */
export const BACKUP_SITE: SiteId = 'db4';

/** Placement of one region's fragment: the primary site and the backup site holding its replica. */
export interface FragmentPlacement {
  readonly region: Region;
  readonly primary: SiteId;
  readonly backup: SiteId;
}

/** Region → placement. */
export const PLACEMENT: Readonly<Record<Region, FragmentPlacement>> = Object.freeze({
  TP1: { region: 'TP1', primary: 'db1', backup: 'db4' },
  TP2: { region: 'TP2', primary: 'db2', backup: 'db4' },
  TP3: { region: 'TP3', primary: 'db3', backup: 'db4' },
});

/** True when `s` names a region. */
export function isRegion(s: unknown): s is Region {
  return s === 'TP1' || s === 'TP2' || s === 'TP3';
}

/** True when `s` names a site. */
export function isSite(s: unknown): s is SiteId {
  return s === 'db1' || s === 'db2' || s === 'db3' || s === 'db4';
}

/** The regions whose fragment (primary or replica) a site holds. */
export function regionsOnSite(site: SiteId): Region[] {
  return REGIONS.filter((r) => PLACEMENT[r].primary === site || PLACEMENT[r].backup === site);
}

/** The copy that is not `site` for a region: the backup for the primary and the other way round. */
export function otherCopy(region: Region, site: SiteId): SiteId {
  const p = PLACEMENT[region];
  return site === p.primary ? p.backup : p.primary;
}
