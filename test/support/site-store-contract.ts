/**
 * The site-store contract, independent of the SQL dialect: what every {@link SiteStore} must do,
 * with exact values. Each dialect's suite calls {@link siteStoreContract} with a harness that opens
 * a store on a fresh, migrated database (PostgreSQL on the shared test cluster; SQL Server when
 * `MSSQL_URL` is set).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it as vitestIt } from 'vitest';
import type { EntityName } from '../../src/domain/entities.js';
import { isEssError } from '../../src/domain/errors.js';
import type { Region } from '../../src/domain/fragmentation.js';
import type { WriteOp } from '../../src/domain/write-op.js';
import type { SiteStore } from '../../src/db/site-store.js';

/** What a dialect provides to the contract. */
export interface SiteStoreHarness {
  /** A store on a fresh database that has the schema (migrated) and nothing else but the regions. */
  open(): Promise<SiteStore>;
  /** Moves every journal row's `applied_at` back by `days` days (to test the purge). */
  backdateJournal(store: SiteStore, days: number): Promise<void>;
  /** A statement, as the recovery script would carry it, inserting a branch (values written in as literals). */
  branchInsertScript(id: string, name: string, region: Region): string;
  /** Drops the fresh database. */
  dispose(store: SiteStore): Promise<void>;
  /**
   * Contract tests this dialect's store is known to fail, by test name, with the reason: they run
   * as `it.fails`, so the suite says so, and turns red once the store is fixed (drop the entry then).
   */
  readonly knownFailures?: Readonly<Record<string, string>>;
}

/** Name of the contract test of concurrent deliveries (for {@link SiteStoreHarness.knownFailures}). */
export const CONCURRENT_DELIVERIES = 'concurrent deliveries: one op delivered 10 times applies once; 20 updates end with the highest seq';

/** md5 of the empty string: the checksum of a table (region) with no rows. */
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

let acceptedAt = Date.parse('2026-01-05T03:00:00.000Z');

/** A write op as the gateway would accept it. */
export function op(
  entity: EntityName,
  action: WriteOp['action'],
  key: string,
  seq: number,
  values: WriteOp['values'],
  region: Region = 'TP1',
  branchId = 'B1',
): WriteOp {
  acceptedAt += 1000;
  return { opId: `${region}-${randomUUID()}`, region, entity, key, action, seq, branchId, values, acceptedAt: new Date(acceptedAt).toISOString() };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return isEssError(err) ? err.code : `raw: ${(err as Error).message}`;
  }
}

/**
 * Registers the contract's tests under `describe(name)`.
 * Each test builds on rows the earlier ones wrote (one fresh database for the suite).
 */
export function siteStoreContract(name: string, harness: SiteStoreHarness): void {
  describe(name, () => {
    const it = (title: string, fn: () => Promise<void>) => (harness.knownFailures?.[title] ? vitestIt.fails : vitestIt)(title, fn);
    let store: SiteStore;
    beforeAll(async () => {
      store = await harness.open();
    });
    afterAll(async () => {
      if (store) {
        await store.close();
        await harness.dispose(store);
      }
    });

    it('migrate() again applies nothing and ping() answers', async () => {
      expect(await store.migrate()).toEqual([]);
      await store.ping(2000);
    });

    it('applies a create once: a redelivery of the same op is a duplicate with the current row', async () => {
      const create = op('branch', 'create', 'B1', 1, { id: 'B1', name: 'Chi nhánh Hà Nội', region: 'TP1' });
      const first = await store.applyOp(create, 1);
      expect(first).toEqual({
        opId: create.opId,
        outcome: 'applied',
        duplicate: false,
        row: { id: 'B1', name: 'Chi nhánh Hà Nội', region: 'TP1' },
        dbRow: { id: 'B1', name: 'Chi nhánh Hà Nội', region: 'TP1' },
      });
      const again = await store.applyOp(create, 1);
      expect(again).toEqual({ ...first, duplicate: true });
      expect(await store.journalCount()).toBe(1);
      expect(await store.getById('branch', 'B1')).toEqual({ id: 'B1', name: 'Chi nhánh Hà Nội', region: 'TP1' });
      expect(await store.getById('branch', 'B1', 'TP2')).toBeNull();
      expect(await store.getById('branch', 'nope')).toBeNull();
    });

    it('an op whose seq is not above the entity version is superseded and changes nothing', async () => {
      const upd = await store.applyOp(op('branch', 'update', 'B1', 3, { name: "Chi nhánh O'Brien" }), 1);
      expect(upd.outcome).toBe('applied');
      expect(upd.row).toEqual({ id: 'B1', name: "Chi nhánh O'Brien", region: 'TP1' });
      const late = op('branch', 'update', 'B1', 2, { name: 'late' });
      expect(await store.applyOp(late, 1)).toEqual({ opId: late.opId, outcome: 'superseded', duplicate: false, row: null, dbRow: null });
      expect((await store.getById('branch', 'B1'))?.['name']).toBe("Chi nhánh O'Brien");
      const [entry] = await store.journalEntries([late.opId]);
      expect(entry).toMatchObject({ opId: late.opId, region: 'TP1', entity: 'branch', key: 'B1', action: 'update', seq: 2, epoch: 1, outcome: 'superseded', error: null });
      expect(entry!.payload).toEqual(late);
      expect(entry!.acceptedAt).toBe(late.acceptedAt);
      // A redelivered superseded op reports superseded again, as a duplicate.
      expect(await store.applyOp(late, 1)).toMatchObject({ outcome: 'superseded', duplicate: true });
    });

    it('keeps every column kind exact: Unicode text, DATE, DECIMAL kWh, BIGINT VND, BIT, SMALLINT, instants', async () => {
      await store.applyOp(op('customer', 'create', 'C1', 1, { id: 'C1', name: 'Nguyễn Văn Ánh', branch_id: 'B1', address: null, phone: '0912 345 678', region: 'TP1' }), 1);
      const k = await store.applyOp(
        op('contract', 'create', 'K1', 1, { id: 'K1', customer_id: 'C1', signed_on: '2025-05-10', meter_serial: 'M-1', kwh_quota: '123.450', unit_price: 1893, is_paid: false, region: 'TP1' }),
        2,
      );
      expect(k.dbRow).toEqual({ id: 'K1', customer_id: 'C1', signed_on: '2025-05-10', meter_serial: 'M-1', kwh_quota: '123.450', unit_price: 1893, is_paid: false, region: 'TP1' });
      const m = await store.applyOp(
        op('meterReading', 'create', 'M1', 1, { id: 'M1', contract_id: 'K1', read_on: '2025-12-31', kwh: '0.300', meter_index: '999999999.999', half_hours: 48, region: 'TP1' }),
        2,
      );
      expect(m.row).toEqual({ id: 'M1', contractId: 'K1', readOn: '2025-12-31', kwh: '0.300', meterIndex: '999999999.999', halfHours: 48, region: 'TP1' });
      await store.applyOp(op('meterReading', 'create', 'M2', 1, { id: 'M2', contract_id: 'K1', read_on: '2026-01-31', kwh: '123.450', meter_index: null, half_hours: null, region: 'TP1' }), 2);
      await store.applyOp(op('invoice', 'create', 'I1', 1, { id: 'I1', contract_id: 'K1', month: 12, year: 2025, employee_id: null, kwh: '0.300', amount: 9_007_199_254_740, region: 'TP1' }), 2);
      const p = await store.applyOp(op('payment', 'create', 'P1', 1, { id: 'P1', invoice_id: 'I1', paid_at: '2026-01-05T10:15:30.123+07:00', amount: 595, region: 'TP1' }), 2);
      expect(p.dbRow).toEqual({ id: 'P1', invoice_id: 'I1', paid_at: '2026-01-05T03:15:30.123Z', amount: 595, region: 'TP1' });
      expect(await store.getById('invoice', 'I1')).toEqual({ id: 'I1', contractId: 'K1', month: 12, year: 2025, employeeId: null, kwh: '0.300', amount: 9_007_199_254_740, region: 'TP1' });
      const upd = await store.applyOp(op('contract', 'update', 'K1', 2, { is_paid: true, kwh_quota: null }), 2);
      expect(upd.row).toMatchObject({ isPaid: true, kwhQuota: null, unitPrice: 1893, signedOn: '2025-05-10' });
    });

    it('refuses a child whose parent is missing, an update of a missing row and a delete of a referenced row, journaling nothing', async () => {
      const before = await store.journalCount();
      expect(await codeOf(store.applyOp(op('customer', 'create', 'C-ORPHAN', 1, { id: 'C-ORPHAN', name: 'x', branch_id: 'B-NONE', region: 'TP1' }), 1))).toBe('parent_missing');
      expect(await codeOf(store.applyOp(op('customer', 'update', 'C-NONE', 1, { name: 'x' }), 1))).toBe('row_missing');
      expect(await codeOf(store.applyOp(op('branch', 'delete', 'B1', 9, {}), 1))).toBe('has_children');
      expect(await store.journalCount()).toBe(before);
      expect(await store.getById('branch', 'B1')).not.toBeNull();
    });

    it('deletes a row and keeps its version as a tombstone: an older create is superseded', async () => {
      await store.applyOp(op('branch', 'create', 'B-DEL', 1, { id: 'B-DEL', name: 'tạm', region: 'TP1' }), 1);
      const del = await store.applyOp(op('branch', 'delete', 'B-DEL', 2, {}), 1);
      expect(del).toMatchObject({ outcome: 'applied', duplicate: false, row: null, dbRow: null });
      expect(await store.getById('branch', 'B-DEL')).toBeNull();
      expect((await store.applyOp(op('branch', 'create', 'B-DEL', 1, { id: 'B-DEL', name: 'again', region: 'TP1' }), 1)).outcome).toBe('superseded');
      expect(await store.getById('branch', 'B-DEL')).toBeNull();
    });

    it('lists in binary id order with region and parent filters and a keyset cursor', async () => {
      for (const [id, region] of [['B-10', 'TP1'], ['B-2', 'TP1'], ['b-1', 'TP1'], ['B-3', 'TP2']] as const) {
        await store.applyOp(op('branch', 'create', id, 1, { id, name: `n ${id}`, region }, region), 1);
      }
      const ids = async (q: Parameters<SiteStore['list']>[1]) => (await store.list('branch', q)).map((r) => r['id']);
      expect(await ids({ limit: 100 })).toEqual(['B-10', 'B-2', 'B-3', 'B1', 'b-1']);
      expect(await ids({ region: 'TP1', limit: 100 })).toEqual(['B-10', 'B-2', 'B1', 'b-1']);
      expect(await ids({ region: 'TP1', limit: 2 })).toEqual(['B-10', 'B-2']);
      expect(await ids({ region: 'TP1', afterId: 'B-2', limit: 2 })).toEqual(['B1', 'b-1']);
      expect(await ids({ region: 'TP1', afterId: 'b-1', limit: 2 })).toEqual([]);
      expect(await store.list('meterReading', { region: 'TP1', parent: { column: 'contract_id', value: 'K1' }, limit: 10 })).toEqual([
        { id: 'M1', contractId: 'K1', readOn: '2025-12-31', kwh: '0.300', meterIndex: '999999999.999', halfHours: 48, region: 'TP1' },
        { id: 'M2', contractId: 'K1', readOn: '2026-01-31', kwh: '123.450', meterIndex: null, halfHours: null, region: 'TP1' },
      ]);
      expect(await codeOf(store.list('branch', { parent: { column: 'nope', value: 'x' }, limit: 1 }))).toBe('bad_request');
    });

    it('digests: empty is md5(""), a change shows, the same content gives the same checksum', async () => {
      expect(await store.tableDigest('payment', 'TP3')).toEqual({ count: 0, checksum: EMPTY_MD5 });
      const before = await store.tableDigest('branch', 'TP1');
      expect(before.count).toBe(4);
      expect(before.checksum).toMatch(/^[0-9a-f]{32}$/);
      const rows = await store.rowDigests('branch', 'TP1');
      expect([...rows.keys()].sort()).toEqual(['B-10', 'B-2', 'B1', 'b-1']);
      await store.applyOp(op('branch', 'update', 'B-2', 2, { name: 'changed' }), 1);
      const changed = await store.tableDigest('branch', 'TP1');
      expect(changed.checksum).not.toBe(before.checksum);
      expect((await store.rowDigests('branch', 'TP1')).get('B-2')).not.toBe(rows.get('B-2'));
      await store.applyOp(op('branch', 'update', 'B-2', 3, { name: 'n B-2' }), 1);
      expect(await store.tableDigest('branch', 'TP1')).toEqual(before);
      expect((await store.tableDigest('region')).count).toBe(3);
      expect(await codeOf(store.tableDigest('pg_class'))).toBe('bad_request');
    });

    it('placements follow the derivation chain to the branch; consumption sums kWh exactly per region', async () => {
      expect(await store.placements('meterReading', 'TP1')).toEqual(expect.arrayContaining([{ id: 'M1', branchId: 'B1' }, { id: 'M2', branchId: 'B1' }]));
      expect(await store.placements('payment', 'TP1')).toEqual([{ id: 'P1', branchId: 'B1' }]);
      expect(await store.placements('branch', 'TP2')).toEqual([{ id: 'B-3', branchId: 'B-3' }]);
      expect(await store.consumption(['TP1', 'TP2'])).toEqual([
        { region: 'TP1', readings: 2, kwh: '123.750' },
        { region: 'TP2', readings: 0, kwh: '0.000' },
      ]);
    });

    it('journals a failure once; journalEntries returns only known ids; journalCount per region', async () => {
      const failed = op('customer', 'create', 'C-F', 1, { id: 'C-F', name: 'x', branch_id: 'B-NONE', region: 'TP2' }, 'TP2');
      await store.recordFailure(failed, 4, 'parent_missing: branch B-NONE');
      await store.recordFailure(failed, 4, 'again');
      const entries = await store.journalEntries([failed.opId, 'TP1-00000000-0000-0000-0000-000000000000']);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ opId: failed.opId, region: 'TP2', outcome: 'failed', error: 'parent_missing: branch B-NONE', epoch: 4, seq: 1 });
      expect(await store.journalEntries([])).toEqual([]);
      expect(await store.journalCount('TP2')).toBe(2);
      // A failure is journaled whatever the op holds (PostgreSQL's jsonb refuses a lone surrogate).
      const odd = op('branch', 'create', 'B-ODD', 1, { id: 'B-ODD', name: 'a\ud800b', region: 'TP1' });
      await store.recordFailure(odd, 1, 'rejected_by_site: invalid text');
      expect((await store.journalEntries([odd.opId])).map((e) => [e.outcome, e.error])).toEqual([['failed', 'rejected_by_site: invalid text']]);
    });

    it(CONCURRENT_DELIVERIES, async () => {
      const create = op('branch', 'create', 'B-RACE', 1, { id: 'B-RACE', name: 'start', region: 'TP3' }, 'TP3');
      const results = await Promise.all(Array.from({ length: 10 }, () => store.applyOp(create, 1)));
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(await store.journalCount('TP3')).toBe(1);
      const updates = Array.from({ length: 20 }, (_, i) => op('branch', 'update', 'B-RACE', i + 2, { name: `v${i + 2}` }, 'TP3'));
      await Promise.all(updates.reverse().map((u) => store.applyOp(u, 1)));
      expect((await store.getById('branch', 'B-RACE'))?.['name']).toBe('v21');
      expect(await store.journalCount('TP3')).toBe(21);
    });

    it('applyBatch installs replicated ops as applyOp would one by one: whole rows, gate, duplicates, superseded', async () => {
      const branch = op('branch', 'create', 'B-RB', 1, {}, 'TP3', 'B-RB');
      const branchRow = { id: 'B-RB', name: 'Chi nhánh Cần Thơ', region: 'TP3' };
      const cust = op('customer', 'create', 'C-RB', 1, {}, 'TP3', 'B-RB');
      const custRow1 = { id: 'C-RB', name: 'Lê Thị Bé', branch_id: 'B-RB', address: null, phone: null, region: 'TP3' };
      const custUpd = op('customer', 'update', 'C-RB', 2, { name: 'Lê Thị Bé Hai' }, 'TP3', 'B-RB');
      const custRow2 = { ...custRow1, name: 'Lê Thị Bé Hai' };
      const custLate = op('customer', 'update', 'C-RB', 1, { name: 'late' }, 'TP3', 'B-RB');
      const custSrcSuperseded = op('customer', 'update', 'C-RB', 3, { name: 'superseded on the source' }, 'TP3', 'B-RB');
      const tmp = op('branch', 'create', 'B-RB2', 1, {}, 'TP3', 'B-RB2');
      const tmpDel = op('branch', 'delete', 'B-RB2', 2, {}, 'TP3', 'B-RB2');
      const items = [
        { op: branch, epoch: 2, change: { row: branchRow, superseded: false } },
        { op: cust, epoch: 2, change: { row: custRow1, superseded: false } },
        { op: custUpd, epoch: 2, change: { row: custRow2, superseded: false } },
        { op: custLate, epoch: 2, change: { row: { ...custRow1, name: 'late' }, superseded: false } },
        { op: custSrcSuperseded, epoch: 2, change: { row: null, superseded: true } },
        { op: tmp, epoch: 2, change: { row: { id: 'B-RB2', name: 'tạm', region: 'TP3' }, superseded: false } },
        { op: tmpDel, epoch: 2, change: { row: null, superseded: false } },
        { op: branch, epoch: 2, change: { row: branchRow, superseded: false } },
      ];
      const before = await store.journalCount('TP3');
      const results = await store.applyBatch(items);
      const branchApi = await store.getById('branch', 'B-RB');
      const custApi = await store.getById('customer', 'C-RB');
      expect(branchApi).toEqual(branchRow);
      expect(custApi?.['name']).toBe('Lê Thị Bé Hai');
      expect(results.map((r) => [r.opId, r.outcome, r.duplicate])).toEqual([
        [branch.opId, 'applied', false],
        [cust.opId, 'applied', false],
        [custUpd.opId, 'applied', false],
        [custLate.opId, 'superseded', false],
        [custSrcSuperseded.opId, 'superseded', false],
        [tmp.opId, 'applied', false],
        [tmpDel.opId, 'applied', false],
        [branch.opId, 'applied', true],
      ]);
      expect(results[0]).toEqual({ opId: branch.opId, outcome: 'applied', duplicate: false, row: branchApi, dbRow: branchRow });
      expect(results[2]).toEqual({ opId: custUpd.opId, outcome: 'applied', duplicate: false, row: custApi, dbRow: custRow2 });
      expect(results[3]).toEqual({ opId: custLate.opId, outcome: 'superseded', duplicate: false, row: null, dbRow: null });
      expect(results[6]).toEqual({ opId: tmpDel.opId, outcome: 'applied', duplicate: false, row: null, dbRow: null });
      expect(results[7]).toEqual({ opId: branch.opId, outcome: 'applied', duplicate: true, row: branchApi, dbRow: branchRow });
      expect(await store.getById('branch', 'B-RB2')).toBeNull();
      expect(await store.journalCount('TP3')).toBe(before + 7);
      const [late, src] = await store.journalEntries([custLate.opId, custSrcSuperseded.opId]).then((es) => [custLate, custSrcSuperseded].map((o) => es.find((e) => e.opId === o.opId)));
      expect([late?.outcome, late?.epoch, src?.outcome]).toEqual(['superseded', 2, 'superseded']);
      // The same batch again: every op a duplicate, nothing changes.
      const again = await store.applyBatch(items);
      expect(again.every((r) => r.duplicate)).toBe(true);
      expect(await store.journalCount('TP3')).toBe(before + 7);
      // A batch with an op whose parent is missing is refused whole: its first op is not kept either.
      const ok = op('branch', 'create', 'B-RB3', 1, {}, 'TP3', 'B-RB3');
      const orphan = op('customer', 'create', 'C-RB3', 1, {}, 'TP3', 'B-NONE');
      const refused = store.applyBatch([
        { op: ok, epoch: 2, change: { row: { id: 'B-RB3', name: 'x', region: 'TP3' }, superseded: false } },
        { op: orphan, epoch: 2, change: { row: { ...custRow1, id: 'C-RB3', branch_id: 'B-NONE' }, superseded: false } },
      ]);
      expect(await codeOf(refused)).toBe('parent_missing');
      expect(await store.getById('branch', 'B-RB3')).toBeNull();
      expect(await store.journalEntries([ok.opId])).toEqual([]);
      expect(await store.journalCount('TP3')).toBe(before + 7);
    });

    it('a replica that arrives after a later op of its entity is journaled applied (its source\'s outcome) and changes nothing', async () => {
      const row = { id: 'C-RB', name: 'late replica', branch_id: 'B-RB', address: null, phone: null, region: 'TP3' };
      const viaBatch = op('customer', 'update', 'C-RB', 1, { name: 'late replica' }, 'TP3', 'B-RB');
      const viaApplyOp = op('customer', 'update', 'C-RB', 1, { name: 'late replica' }, 'TP3', 'B-RB');
      expect(await store.applyBatch([{ op: viaBatch, epoch: 2, change: { row, superseded: false }, replica: true }])).toEqual([
        { opId: viaBatch.opId, outcome: 'applied', duplicate: false, row: null, dbRow: null, late: true },
      ]);
      expect(await store.applyOp(viaApplyOp, 2, { row, superseded: false })).toEqual({ opId: viaApplyOp.opId, outcome: 'applied', duplicate: false, row: null, dbRow: null, late: true });
      expect((await store.getById('customer', 'C-RB'))?.['name']).toBe('Lê Thị Bé Hai');
      expect((await store.journalEntries([viaBatch.opId, viaApplyOp.opId])).map((e) => e.outcome)).toEqual(['applied', 'applied']);
    });

    it('executeScript runs all statements in one transaction, or none', async () => {
      const ok = await store.executeScript([harness.branchInsertScript('B-S1', "Điện lực Đà Nẵng 'cũ'", 'TP2'), harness.branchInsertScript('B-S2', 'x', 'TP2')]);
      expect(ok).toEqual({ statements: 2, rowsChanged: 2 });
      expect(await store.getById('branch', 'B-S1')).toEqual({ id: 'B-S1', name: "Điện lực Đà Nẵng 'cũ'", region: 'TP2' });
      const bad = harness.branchInsertScript('B-S3', 'y', 'TX9' as Region);
      await expect(store.executeScript([harness.branchInsertScript('B-S4', 'z', 'TP2'), bad])).rejects.toThrow();
      expect(await store.getById('branch', 'B-S4')).toBeNull();
    });

    it('purgeJournal deletes only rows older than the retention', async () => {
      const total = await store.journalCount();
      expect(await store.purgeJournal(7)).toBe(0);
      await harness.backdateJournal(store, 8);
      await store.applyOp(op('branch', 'create', 'B-NEW', 1, { id: 'B-NEW', name: 'new', region: 'TP1' }), 1);
      expect(await store.purgeJournal(7)).toBe(total);
      expect(await store.journalCount()).toBe(1);
    });
  });
}
