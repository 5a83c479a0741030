/**
 * Reads (DESIGN.md section 7): by id from one site, filtered by region or parent from one site,
 * otherwise scatter-gather over the sites the routing table names, merged in global id order.
 * A region whose copies cannot be read makes the answer `partial`, naming it; never silently short.
 */
import type { Redis } from 'ioredis';
import { ENTITIES, type EntityName, type Row } from '../domain/entities.js';
import { EssError } from '../domain/errors.js';
import { REGIONS, otherCopy, type Region, type SiteId } from '../domain/fragmentation.js';
import type { SiteStores } from '../db/site-stores.js';
import { redisKeys } from '../routing/keys.js';
import type { RoutingTableStore } from '../routing/routing-table.js';
import { decodePlacement } from '../write/accept-write.js';

/** A page of a list read. */
export interface ListPage {
  readonly items: Row[];
  /** Pass as `cursor` for the next page; null at the end. */
  readonly nextCursor: string | null;
  /** True when some region could not be read: `missingRegions` names them. */
  readonly partial: boolean;
  readonly missingRegions: Region[];
  /** Which site answered for each region read. */
  readonly servedBy: Partial<Record<Region, SiteId>>;
}

/** A list request. `parent` filters by the parent id (`branchId`, `customerId`, `contractId`…). */
export interface ListRequest {
  readonly entity: EntityName;
  readonly region?: Region;
  readonly parentId?: string;
  readonly cursor?: string;
  readonly limit: number;
}

/** Read access across the sites. */
export class Reads {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly stores: SiteStores,
    private readonly routing: RoutingTableStore,
  ) {}

  /** Runs `fn` on the region's serving site, then on its other copy if the first cannot answer. */
  private async onRegion<T>(region: Region, fn: (site: SiteId) => Promise<T>): Promise<{ value: T; site: SiteId }> {
    const route = await this.routing.get(region);
    const sites = [route.site, otherCopy(region, route.site)];
    let lastErr: unknown;
    for (const site of sites) {
      try {
        return { value: await fn(site), site };
      } catch (err) {
        lastErr = err;
      }
    }
    throw new EssError('site_unavailable', `region ${region}: no copy can be read (${(lastErr as Error)?.message})`, {}, { cause: lastErr });
  }

  /**
   * One row by id: the catalog names its region, one site answers.
   * @throws EssError `not_found`, `site_unavailable`
   */
  async byId(entity: EntityName, id: string): Promise<{ row: Row; region: Region; site: SiteId }> {
    const placement = decodePlacement(await this.redis.hget(redisKeys(this.prefix).catalog(entity), id));
    if (!placement) throw new EssError('not_found', `${entity} ${id} does not exist`);
    const { value, site } = await this.onRegion(placement.region, (s) => this.stores[s].getById(entity, id, placement.region));
    if (!value) throw new EssError('not_found', `${entity} ${id} is accepted but not applied yet`);
    return { row: value, region: placement.region, site };
  }

  /** A page of rows in global id order; see {@link ListRequest}. */
  async list(req: ListRequest): Promise<ListPage> {
    const def = ENTITIES[req.entity];
    let regions: readonly Region[] = req.region ? [req.region] : REGIONS;
    let parent: { column: string; value: string } | undefined;
    if (req.parentId !== undefined) {
      if (!def.parent) throw new EssError('bad_request', `${req.entity} has no parent to filter by`);
      const p = decodePlacement(await this.redis.hget(redisKeys(this.prefix).catalog(def.parent.entity), req.parentId));
      if (!p) throw new EssError('not_found', `${def.parent.entity} ${req.parentId} does not exist`);
      if (req.region && req.region !== p.region) {
        throw new EssError('bad_request', `${def.parent.entity} ${req.parentId} is in ${p.region}, not in region ${req.region}: drop one of the two filters`);
      }
      regions = [p.region];
      parent = { column: def.parent.column, value: req.parentId };
    }
    const missing: Region[] = [];
    const servedBy: Partial<Record<Region, SiteId>> = {};
    const pages = await Promise.all(
      regions.map(async (region) => {
        try {
          const { value, site } = await this.onRegion(region, (s) =>
            this.stores[s].list(req.entity, { region, parent, afterId: req.cursor, limit: req.limit }),
          );
          servedBy[region] = site;
          return value;
        } catch {
          missing.push(region);
          return [];
        }
      }),
    );
    const merged = pages.flat().sort((a, b) => (String(a['id']) < String(b['id']) ? -1 : String(a['id']) > String(b['id']) ? 1 : 0));
    const items = merged.slice(0, req.limit);
    const more = merged.length > req.limit || pages.some((p) => p.length === req.limit);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor: more && last ? String(last['id']) : null,
      partial: missing.length > 0,
      missingRegions: missing.sort(),
      servedBy,
    };
  }
}
