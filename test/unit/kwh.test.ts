import { describe, expect, it } from 'vitest';
import { formatMilliKwh, normalizeKwh, parseMilliKwh } from '../../src/domain/kwh.js';

describe('kWh decimals', () => {
  it('rounds half up to 0.001 on the decimal text', () => {
    expect(normalizeKwh('7.098000000000001')).toBe('7.098');
    expect(normalizeKwh(7.098000000000001)).toBe('7.098');
    expect(normalizeKwh('0.0005')).toBe('0.001');
    expect(normalizeKwh('0.0004999')).toBe('0.000');
    expect(normalizeKwh('12.3455')).toBe('12.346');
    expect(normalizeKwh('1.9995')).toBe('2.000');
    expect(normalizeKwh(0)).toBe('0.000');
    expect(normalizeKwh('42')).toBe('42.000');
  });
  it('refuses negatives, garbage and values a NUMERIC(12,3) cannot hold', () => {
    expect(parseMilliKwh(-1)).toBeUndefined();
    expect(parseMilliKwh('-0.5')).toBeUndefined();
    expect(parseMilliKwh('1e3')).toBeUndefined();
    expect(parseMilliKwh('abc')).toBeUndefined();
    expect(parseMilliKwh('')).toBeUndefined();
    expect(parseMilliKwh(Number.NaN)).toBeUndefined();
    expect(parseMilliKwh('1000000000')).toBeUndefined();
    expect(parseMilliKwh('999999999.999')).toBe(999_999_999_999n);
  });
  it('formats milli-kWh without floats', () => {
    expect(formatMilliKwh(409650273n)).toBe('409650.273');
    expect(formatMilliKwh(5n)).toBe('0.005');
    expect(formatMilliKwh(-1500n)).toBe('-1.500');
  });
});
