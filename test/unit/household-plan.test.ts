import { describe, expect, it } from 'vitest';
import { parseProvinces, planHouseholdImport } from '../../src/import/household-plan.js';

const provinces = parseProvinces('code,name,region,power_corporation\n48,Đà Nẵng,TP2,EVNCPC\n01,Hà Nội,TP1,EVNHANOI\n79,Hồ Chí Minh,TP3,EVNHCMC\n');
const header = 'LCLid,day,energy_median,energy_mean,energy_max,energy_count,energy_std,energy_sum,energy_min';

describe('household import plan', () => {
  it('assigns households sorted by id round-robin to branches sorted by province code', () => {
    const csv = [header, 'MAC3,2012-01-01,,,,48,,1.5,', 'MAC1,2012-01-01,,,,48,,2,', 'MAC2,2012-01-01,,,,48,,3,', 'MAC4,2012-01-01,,,,48,,4,'].join('\n');
    const plan = planHouseholdImport(csv, provinces);
    expect(plan.branches).toEqual([
      { id: 'P01', name: 'Hà Nội', region: 'TP1' },
      { id: 'P48', name: 'Đà Nẵng', region: 'TP2' },
      { id: 'P79', name: 'Hồ Chí Minh', region: 'TP3' },
    ]);
    expect(plan.customers.map((c) => [c.id, c.branchId])).toEqual([
      ['KH-MAC1', 'P01'],
      ['KH-MAC2', 'P48'],
      ['KH-MAC3', 'P79'],
      ['KH-MAC4', 'P01'],
    ]);
    expect([...plan.householdRegion]).toEqual([['MAC1', 'TP1'], ['MAC2', 'TP2'], ['MAC3', 'TP3'], ['MAC4', 'TP1']]);
  });

  it('builds a cumulative meter index in day order, exact to 0.001 kWh', () => {
    const csv = [header, 'MAC1,2012-01-02,,,,48,0.1,7.098000000000001,', 'MAC1,2012-01-01,,,,46,0.2,11.087000000000002,', 'MAC1,2012-01-03,,,,1,,0.0005,'].join('\n');
    const plan = planHouseholdImport(csv, provinces);
    expect(plan.readings).toEqual([
      { id: 'MR-MAC1-2012-01-01', contractId: 'HD-MAC1', readOn: '2012-01-01', kwh: '11.087', meterIndex: '11.087', halfHours: 46 },
      { id: 'MR-MAC1-2012-01-02', contractId: 'HD-MAC1', readOn: '2012-01-02', kwh: '7.098', meterIndex: '18.185', halfHours: 48 },
      { id: 'MR-MAC1-2012-01-03', contractId: 'HD-MAC1', readOn: '2012-01-03', kwh: '0.001', meterIndex: '18.186', halfHours: 1 },
    ]);
    expect(plan.contracts).toEqual([{ id: 'HD-MAC1', customerId: 'KH-MAC1', signedOn: '2012-01-01', meterSerial: 'MAC1' }]);
    expect(plan.rejected).toEqual([]);
  });

  it('rejects a row without kWh with its line and reason, but not one missing only energy_std', () => {
    const csv = [header, 'MAC1,2012-01-01,,,,48,,,', 'MAC1,2012-01-02,,,,48,,abc,', 'MAC1,2012-01-03,,,,1,,2.5,', 'MAC1,2012-01-03,,,,1,,2.5,', 'MAC1,2012-13-01,,,,48,,1,'].join('\n');
    const plan = planHouseholdImport(csv, provinces);
    expect(plan.readings.map((r) => r.id)).toEqual(['MR-MAC1-2012-01-03']);
    expect(plan.rejected).toEqual([
      { line: 2, household: 'MAC1', day: '2012-01-01', reason: 'energy_sum (kWh) is empty' },
      { line: 3, household: 'MAC1', day: '2012-01-02', reason: 'energy_sum (kWh) is not a non-negative number: "abc"' },
      { line: 5, household: 'MAC1', day: '2012-01-03', reason: 'duplicate household-day' },
      { line: 6, household: 'MAC1', day: '2012-13-01', reason: 'day is not a real calendar date: "2012-13-01"' },
    ]);
  });

  it('refuses a province file with an unknown region, naming the line', () => {
    expect(() => parseProvinces('code,name,region\n01,Hà Nội,TP9\n')).toThrow(/line 2/);
  });
});
