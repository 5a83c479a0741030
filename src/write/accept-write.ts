/**
 * The gateway's half of the write path (DESIGN.md section 3): resolve the region through the
 * fragmentation catalog, give the op its per-entity sequence, and enqueue it, idempotently.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { partitionOf } from '../../queues/catalog.js';
import type { QueueSet } from '../../queues/queue-set.js';
import { ENTITIES, type EntityName, type Placement } from '../domain/entities.js';
import { EssError } from '../domain/errors.js';
import { isRegion } from '../domain/fragmentation.js';
import type { WriteAction, WriteOp } from '../domain/write-op.js';
import type { DbValues } from '../db/row-codec.js';
import { redisKeys, type RedisKeys } from '../routing/keys.js';
import { validateBody } from './validation.js';

/** A write as the HTTP layer hands it over (body not yet validated). */
export interface WriteRequest {
  readonly entity: EntityName;
  readonly action: WriteAction;
  /** The entity id: from the body on create, from the URL on update/delete. */
  readonly id?: string;
  readonly body?: unknown;
  readonly idempotencyKey?: string;
  readonly requestId?: string;
}

/** An accepted write: what the `202` carries. */
export interface AcceptedWrite {
  readonly opId: string;
  readonly seq: number;
  readonly region: WriteOp['region'];
  readonly entity: EntityName;
  readonly key: string;
  readonly action: WriteAction;
  /** True when an earlier request with the same `Idempotency-Key` was accepted: nothing new was enqueued. */
  readonly replayed: boolean;
}

// Atomic acceptance in one round trip: idempotency check, placement (a branch's own region, a
// child's from its parent's catalog entry, an existing row's from its own), catalog change
// (exists / missing), per-entity sequence. KEYS: catalog, seq, idempotency ('' for none), parent
// catalog ('' for none). ARGV: key, action, placement of a branch, uuid, body hash, entity, TTL s,
// parent id. Returns {'ok', seq, placement, opId} or {'idem'|'exists'|'missing'|'parent_missing', …}.
const ACCEPT_LUA = `
local idem = KEYS[3]
if idem ~= '' then
  local prev = redis.call('HGETALL', idem)
  if #prev > 0 then return {'idem', cjson.encode(prev)} end
end
local placement = ARGV[3]
local seq
if ARGV[2] == 'create' then
  if KEYS[4] ~= '' then
    placement = redis.call('HGET', KEYS[4], ARGV[8])
    if not placement then return {'parent_missing', ''} end
    placement = string.match(placement, '^[^|]*|[^|]*')
  end
  if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'exists', ''} end
  seq = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  -- The entry names the create that made it, so undoing a refused create removes only its own.
  redis.call('HSET', KEYS[1], ARGV[1], placement .. '|' .. seq)
else
  placement = redis.call('HGET', KEYS[1], ARGV[1])
  if not placement then return {'missing', ''} end
  placement = string.match(placement, '^[^|]*|[^|]*')
  if ARGV[2] == 'delete' then redis.call('HDEL', KEYS[1], ARGV[1]) end
  seq = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
end
local opId = string.match(placement, '^[^|]*') .. '-' .. ARGV[4]
if idem ~= '' then
  redis.call('HSET', idem, 'opId', opId, 'hash', ARGV[5], 'seq', seq, 'entity', ARGV[6], 'key', ARGV[1], 'action', ARGV[2])
  redis.call('EXPIRE', idem, ARGV[7])
end
return {'ok', tostring(seq), placement, opId}`;

/** The acceptance script as an ioredis custom command (keys: catalog, seq, idempotency). */
interface AcceptCommand {
  essAccept(...args: string[]): Promise<string[]>;
}

// Undo of a refused op's catalog change, only while no later op of the key changed the entry:
// a create's entry is removed if it is still the one that create made (`…|<seq>`); a delete's
// entry is put back if no op of the key was accepted after it (any later op is a create, which
// made or makes the entry itself). KEYS: catalog, seq. ARGV: key, action, seq, placement.
const UNDO_LUA = `
if ARGV[2] == 'create' then
  local cur = redis.call('HGET', KEYS[1], ARGV[1])
  if cur and string.match(cur, '|([^|]*)$') == ARGV[3] and select(2, string.gsub(cur, '|', '')) == 2 then
    redis.call('HDEL', KEYS[1], ARGV[1])
    return 1
  end
elseif ARGV[2] == 'delete' then
  if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[3] then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
    return 1
  end
end
return 0`;

/**
 * Undoes what accepting `op` did to the fragmentation catalog, unless a later op of the same key
 * changed the entry since: a refused create's entry is removed if it is still the one it made, a
 * refused delete's entry is put back if nothing of the key was accepted after it. Used when the op
 * never reaches a site (its enqueue failed) and when a site refuses it for good.
 * @returns whether the catalog was changed
 */
export async function undoCatalogChange(redis: Redis, keys: RedisKeys, op: WriteOp): Promise<boolean> {
  if (op.action === 'update') return false;
  const placement = `${encodePlacement({ region: op.region, branchId: op.branchId })}|${op.seq}`;
  return (await redis.eval(UNDO_LUA, 2, keys.catalog(op.entity), keys.seq(op.entity), op.key, op.action, String(op.seq), placement)) === 1;
}

/** Encodes a catalog value: `region|branchId`. */
export function encodePlacement(p: Placement): string {
  return `${p.region}|${p.branchId}`;
}

/** Decodes a catalog value: `region|branchId`, or `region|branchId|seq` (the create that made it). */
export function decodePlacement(v: string | null | undefined): Placement | undefined {
  if (!v) return undefined;
  const [region, branchId] = v.split('|');
  return isRegion(region) && branchId ? { region, branchId } : undefined;
}

function bodyHash(req: WriteRequest): string {
  return createHash('sha256').update(JSON.stringify([req.entity, req.action, req.id ?? null, req.body ?? null])).digest('hex');
}

/** Options of a {@link WriteAcceptor}. */
export interface WriteAcceptorOptions {
  readonly redis: Redis;
  readonly queues: QueueSet;
  readonly prefix: string;
  readonly idempotencyTtlHours: number;
}

/** Validates, routes, sequences and enqueues writes. */
export class WriteAcceptor {
  private readonly keys: RedisKeys;
  private readonly redis: Redis;

  constructor(private readonly options: WriteAcceptorOptions) {
    this.keys = redisKeys(options.prefix);
    this.redis = options.redis;
    // EVALSHA with a fallback to EVAL: the script is sent once per connection, not per request.
    if (!(this.redis as unknown as Partial<AcceptCommand>).essAccept) this.redis.defineCommand('essAccept', { numberOfKeys: 4, lua: ACCEPT_LUA });
  }

  /**
   * Checks, resolves and prepares one write without enqueueing it: validation here, then one Lua
   * call for the placement (a branch's `region`, a child's from its parent), the catalog and the
   * per-entity sequence.
   * @throws EssError validation_failed | parent_missing | not_found | conflict | idempotency_mismatch
   */
  async prepare(req: WriteRequest, fieldPrefix = ''): Promise<{ op: WriteOp; partition: number } | AcceptedWrite> {
    const def = ENTITIES[req.entity];
    if (!def.writable) throw new EssError('bad_request', `${req.entity} is not writable through the API`);
    let values: DbValues = {};
    let key: string;
    let branchPlacement = '';
    let parentCatalog = '';
    let parentId = '';
    if (req.action === 'create') {
      values = validateBody(req.entity, 'create', req.body, fieldPrefix);
      key = String(values['id']);
      if (!def.parent) {
        const region = values['region'];
        if (!isRegion(region)) throw new EssError('validation_failed', 'unknown region', { fields: [{ path: `${fieldPrefix}region`, message: 'unknown region' }] });
        branchPlacement = encodePlacement({ region, branchId: key });
      } else {
        parentCatalog = this.keys.catalog(def.parent.entity);
        parentId = String(values[def.parent.column]);
      }
    } else {
      key = String(req.id ?? '');
      if (req.action === 'update') values = validateBody(req.entity, 'update', req.body, fieldPrefix);
    }
    const hash = bodyHash(req);
    const res = await (this.redis as unknown as AcceptCommand).essAccept(
      this.keys.catalog(req.entity),
      this.keys.seq(req.entity),
      req.idempotencyKey ? this.keys.idempotency(req.idempotencyKey) : '',
      parentCatalog,
      key,
      req.action,
      branchPlacement,
      randomUUID(),
      hash,
      req.entity,
      String(this.options.idempotencyTtlHours * 3600),
      parentId,
    );
    switch (res[0]) {
      case 'idem':
        return this.fromIdempotency(JSON.parse(res[1]!) as string[], hash);
      case 'exists':
        throw new EssError('conflict', `${req.entity} ${key} already exists`, { fields: [{ path: `${fieldPrefix}id`, message: 'already exists' }] });
      case 'missing':
        throw new EssError('not_found', `${req.entity} ${key} does not exist`);
      case 'parent_missing': {
        const parent = def.parent!;
        throw new EssError('parent_missing', `${parent.entity} ${parentId} does not exist`, {
          fields: [{ path: `${fieldPrefix}${parent.field}`, message: `${parent.entity} ${parentId} does not exist` }],
        });
      }
    }
    const placement = decodePlacement(res[2]);
    if (!placement) throw new Error(`catalog entry of ${req.entity} ${key} is malformed: "${res[2]}"`);
    if (req.action === 'create') values['region'] = placement.region;
    const op: WriteOp = {
      opId: res[3]!,
      region: placement.region,
      entity: req.entity,
      key,
      action: req.action,
      seq: Number(res[1]),
      branchId: placement.branchId,
      values,
      acceptedAt: new Date().toISOString(),
      ...(req.requestId ? { requestId: req.requestId } : {}),
    };
    return { op, partition: partitionOf(req.entity, key, this.options.queues.partitions) };
  }

  private fromIdempotency(flat: string[], hash: string): AcceptedWrite {
    const m: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) m[flat[i]!] = flat[i + 1]!;
    if (m['hash'] !== hash) {
      throw new EssError('idempotency_mismatch', 'this Idempotency-Key was used with a different request body');
    }
    const opId = m['opId']!;
    return {
      opId,
      seq: Number(m['seq']),
      region: opId.slice(0, 3) as WriteOp['region'],
      entity: m['entity'] as EntityName,
      key: m['key']!,
      action: m['action'] as WriteAction,
      replayed: true,
    };
  }

  /** Accepts one write: validated, sequenced and enqueued, or an error thrown. */
  async accept(req: WriteRequest): Promise<AcceptedWrite> {
    const prepared = await this.prepare(req);
    if (!('op' in prepared)) return prepared;
    try {
      await this.options.queues.addApply(prepared.partition, prepared.op);
    } catch (err) {
      await this.undo(prepared.op, req.idempotencyKey);
      throw err;
    }
    return accepted(prepared.op);
  }

  /**
   * Accepts a batch: each item is validated and accepted on its own; the accepted ones are
   * enqueued with one `addBulk` per partition. Items that fail are returned as errors, in place.
   */
  async acceptMany(reqs: readonly WriteRequest[], fieldName: string): Promise<Array<AcceptedWrite | EssError>> {
    const results: Array<AcceptedWrite | EssError> = new Array(reqs.length);
    const toEnqueue: Array<{ index: number; partition: number; op: WriteOp }> = [];
    const settled = await Promise.allSettled(
      reqs.map(async (req, index) => {
        try {
          const prepared = await this.prepare(req, `${fieldName}[${index}].`);
          if ('op' in prepared) toEnqueue.push({ index, ...prepared });
          else results[index] = prepared;
        } catch (err) {
          if (err instanceof EssError) results[index] = err;
          else throw err;
        }
      }),
    );
    const unexpected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (unexpected) {
      // Redis failed under some items: undo the ones already accepted, so a retry is not a 409.
      await Promise.all(toEnqueue.map((t) => this.undo(t.op, reqs[t.index]!.idempotencyKey)));
      throw unexpected.reason;
    }
    try {
      await this.options.queues.addApplyBulk(toEnqueue);
    } catch (err) {
      await Promise.all(toEnqueue.map((t) => this.undo(t.op, reqs[t.index]!.idempotencyKey)));
      throw err;
    }
    for (const t of toEnqueue) results[t.index] = accepted(t.op);
    return results;
  }

  /** Best-effort undo of an acceptance whose enqueue failed (the sequence number stays used). */
  private async undo(op: WriteOp, idempotencyKey?: string): Promise<void> {
    try {
      await undoCatalogChange(this.redis, this.keys, op);
      if (idempotencyKey) await this.redis.del(this.keys.idempotency(idempotencyKey));
    } catch {
      // Redis is down: the catalog is a cache that `npm run ctl -- catalog-rebuild` restores from the sites.
    }
  }
}

function accepted(op: WriteOp): AcceptedWrite {
  return { opId: op.opId, seq: op.seq, region: op.region, entity: op.entity, key: op.key, action: op.action, replayed: false };
}
