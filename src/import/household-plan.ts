/**
 * Plans the import of the household smart-meter data ("Smart meters in London", daily block, see
 * `../shared/data/README.md`): one branch per province, one customer and one contract per
 * household, one meter reading per household-day. Pure: reads text, returns what to write.
 */
import { parse } from 'csv-parse/sync';
import { formatMilliKwh, parseMilliKwh } from '../domain/kwh.js';
import { isRegion, type Region } from '../domain/fragmentation.js';

/** A province row of `province_regions.csv`. */
export interface Province {
  readonly code: string;
  readonly name: string;
  readonly region: Region;
}

/** A CSV row refused, with its 1-based line number and the reason. */
export interface RejectedRow {
  readonly line: number;
  readonly household: string;
  readonly day: string;
  readonly reason: string;
}

/** What the import writes, through the API, in this order. */
export interface HouseholdPlan {
  readonly branches: Array<{ id: string; name: string; region: Region }>;
  readonly customers: Array<{ id: string; name: string; branchId: string }>;
  readonly contracts: Array<{ id: string; customerId: string; signedOn: string; meterSerial: string }>;
  readonly readings: Array<{ id: string; contractId: string; readOn: string; kwh: string; meterIndex: string; halfHours: number | null }>;
  readonly rejected: RejectedRow[];
  /** Household id → region, for summaries. */
  readonly householdRegion: ReadonlyMap<string, Region>;
}

/**
 * Parses `province_regions.csv` (`code,name,region,power_corporation`).
 * @throws Error naming the line of a row with an unknown region
 */
export function parseProvinces(text: string): Province[] {
  const rows = parse(text, { columns: true, skip_empty_lines: true, trim: true }) as Array<Record<string, string>>;
  return rows.map((r, i) => {
    if (!r['code'] || !r['name'] || !isRegion(r['region'])) {
      throw new Error(`province_regions.csv line ${i + 2}: needs code, name and a region TP1/TP2/TP3 (got ${JSON.stringify(r)})`);
    }
    return { code: r['code'], name: r['name'], region: r['region'] };
  });
}

/**
 * Plans the import. Households sorted by id are assigned round-robin to the branches sorted by
 * province code; each household's readings get a cumulative meter index (running sum of kWh in
 * day order, exact to 0.001 kWh). A row without kWh (`energy_sum` empty or not a number) is
 * rejected with its reason; an empty field the import does not need (such as `energy_std`) is not.
 */
export function planHouseholdImport(readingsCsv: string, provinces: readonly Province[]): HouseholdPlan {
  const rows = parse(readingsCsv, { columns: true, skip_empty_lines: true, trim: true }) as Array<Record<string, string>>;
  const branches = [...provinces]
    .sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0))
    .map((p) => ({ id: `P${p.code}`, name: p.name, region: p.region }));
  if (branches.length === 0) throw new Error('no provinces: cannot place households');
  const rejected: RejectedRow[] = [];
  const byHousehold = new Map<string, Array<{ line: number; day: string; milli: bigint; halfHours: number | null }>>();
  rows.forEach((r, i) => {
    const line = i + 2;
    const household = r['LCLid'] ?? '';
    const day = r['day'] ?? '';
    const reject = (reason: string) => rejected.push({ line, household, day, reason });
    if (!/^[A-Za-z0-9_.-]{1,40}$/.test(household)) return reject('LCLid missing or malformed');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return reject('day missing or not YYYY-MM-DD');
    const date = new Date(`${day}T00:00:00Z`);
    if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== day) return reject(`day is not a real calendar date: "${day}"`);
    const rawKwh = r['energy_sum'] ?? '';
    if (rawKwh === '') return reject('energy_sum (kWh) is empty');
    const milli = parseMilliKwh(rawKwh);
    if (milli === undefined) return reject(`energy_sum (kWh) is not a non-negative number: "${rawKwh}"`);
    const countRaw = r['energy_count'] ?? '';
    const halfHours = countRaw === '' ? null : Number(countRaw);
    if (halfHours !== null && (!Number.isInteger(halfHours) || halfHours < 0 || halfHours > 48)) {
      return reject(`energy_count is not a whole number of half-hours 0..48: "${countRaw}"`);
    }
    const list = byHousehold.get(household) ?? [];
    list.push({ line, day, milli, halfHours });
    byHousehold.set(household, list);
  });
  const households = [...byHousehold.keys()].sort();
  const customers: HouseholdPlan['customers'] = [];
  const contracts: HouseholdPlan['contracts'] = [];
  const readings: HouseholdPlan['readings'] = [];
  const householdRegion = new Map<string, Region>();
  households.forEach((h, i) => {
    const branch = branches[i % branches.length]!;
    householdRegion.set(h, branch.region);
    const days = byHousehold.get(h)!.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
    customers.push({ id: `KH-${h}`, name: `Household ${h}`, branchId: branch.id });
    contracts.push({ id: `HD-${h}`, customerId: `KH-${h}`, signedOn: days[0]!.day, meterSerial: h });
    let index = 0n;
    const seen = new Set<string>();
    for (const d of days) {
      if (seen.has(d.day)) {
        rejected.push({ line: d.line, household: h, day: d.day, reason: 'duplicate household-day' });
        continue;
      }
      seen.add(d.day);
      index += d.milli;
      readings.push({ id: `MR-${h}-${d.day}`, contractId: `HD-${h}`, readOn: d.day, kwh: formatMilliKwh(d.milli), meterIndex: formatMilliKwh(index), halfHours: d.halfHours });
    }
  });
  rejected.sort((a, b) => a.line - b.line);
  return { branches, customers, contracts, readings, rejected, householdRegion };
}
