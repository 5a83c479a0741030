/**
 * Operator control of the routing (DESIGN.md section 4): planned failover and failback of a region,
 * and lifting a `needs-recovery` fence once the recovery tool has brought the primary forward.
 * Used by `npm run ctl` and the admin HTTP routes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { queueName } from '../../queues/catalog.js';
import { EssError } from '../domain/errors.js';
import { PLACEMENT, type Region } from '../domain/fragmentation.js';
import { verifyCluster } from '../verify/verify.js';
import { changeRoute, fence, fences, unfence, type RouteChange } from './route-changes.js';
import { resyncRegion, type ResyncDeps, type ResyncResult } from './resync.js';

/**
 * Planned failover (maintenance of a primary): pauses only the region's writes, waits until the
 * backup has every op the primary applied (replication backlog 0, bounded by `timeoutMs`), then
 * routes the region to the backup with a new epoch and resumes.
 * @throws EssError `conflict` when the region is already on its backup, `unavailable` when the backlog does not drain
 */
export async function plannedFailover(deps: ResyncDeps, region: Region, timeoutMs = 30_000): Promise<RouteChange> {
  const { primary, backup } = PLACEMENT[region];
  const route = await deps.routing.get(region);
  if (route.site !== primary) throw new EssError('conflict', `${region} is already served by ${route.site}`);
  const apply = Array.from({ length: deps.queues.partitions }, (_, p) => deps.queues.apply.get(queueName('apply', region, p))!);
  const replicate = [deps.queues.queue('replicate', region)];
  await Promise.all(apply.map((q) => q.pause()));
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all([...apply.map((q) => q.getActiveCount()), ...replicate.map((q) => q.count())]);
      if (counts.every((n) => n === 0)) break;
      if (Date.now() > deadline) throw new EssError('unavailable', `${region}: replication to ${backup} did not drain within ${timeoutMs} ms; route unchanged`);
      await sleep(100);
    }
    const change = await changeRoute(deps, route, backup, 'manual', `planned failover of ${region} to ${backup}`);
    if (!change) throw new EssError('conflict', `${region}: the route changed meanwhile`);
    // No automatic failback while the primary is in maintenance: the operator fails back by hand.
    await fence(deps.redis, deps.prefix, { region, site: primary, state: 'maintenance', reason: 'planned failover', since: change.at }, deps.logger);
    return change;
  } finally {
    await Promise.all(apply.map((q) => q.resume()));
  }
}

/**
 * Failback now: ends a maintenance hold, resyncs the primary from the backup's journal and routes
 * back (see {@link resyncRegion}).
 * @throws EssError `conflict` when the primary is fenced as needs-recovery
 */
export async function failbackNow(deps: ResyncDeps, region: Region): Promise<ResyncResult> {
  const f = (await fences(deps.redis, deps.prefix))[region];
  if (f?.state === 'needs-recovery') throw new EssError('conflict', `${region}: ${f.site} needs recovery (${f.reason}); recover it, then unfence`);
  if (f?.state === 'maintenance') await unfence(deps.redis, deps.prefix, region);
  return resyncRegion(deps, region);
}

/**
 * Lifts a `needs-recovery` fence after checking that the primary now equals its replica for the
 * region (the recovery tool brought it forward); the next probes then fail back by themselves.
 * @throws EssError `not_found` when not fenced, `conflict` when the copies still differ
 */
export async function liftFence(deps: ResyncDeps, region: Region): Promise<{ region: Region; lifted: true }> {
  if ((await fences(deps.redis, deps.prefix))[region]?.state !== 'needs-recovery') throw new EssError('not_found', `${region} is not fenced as needs-recovery`);
  const report = await verifyCluster(deps.stores, undefined, { regions: [region], reference: false });
  if (report.result !== 'equal') {
    const differing = report.tables.filter((t) => !t.equal).map((t) => t.table);
    throw new EssError('conflict', `${region}: ${PLACEMENT[region].primary} still differs from ${PLACEMENT[region].backup} (${differing.join(', ') || report.problems.join('; ')}); recover it first`);
  }
  await unfence(deps.redis, deps.prefix, region);
  deps.logger.warn({ region }, 'routing.unfenced');
  return { region, lifted: true };
}
