/**
 * T-SQL literals, for scripts that run without bind parameters (the recovery job's idempotent
 * script for a SQL Server site). Strings are Unicode `N'…'` with `'` doubled; numbers, dates and
 * instants are validated before they are written, so a value can never end the literal early.
 */
import { EssError } from '../../domain/errors.js';
import type { MssqlParam, MssqlStatement, MssqlTypeName } from './statements.js';

/**
 * One value as a T-SQL literal of the given type: `NULL`; `N'Chi nhánh 9'`, `N'O''Brien'`;
 * `12.500`; `1893`; `1`/`0`; `CAST('2025-05-10' AS DATE)`;
 * `CAST('2025-05-10T01:02:03.000+00:00' AS DATETIMEOFFSET(3))`.
 * @throws EssError `bad_request` when the value does not fit the type (not a decimal, not a safe
 *   integer, not a `YYYY-MM-DD` date, not an instant)
 */
export function tsqlLiteral(type: MssqlTypeName, value: MssqlParam['value']): string {
  if (value === null) return 'NULL';
  const bad = (what: string) => new EssError('bad_request', `${JSON.stringify(value)} is not ${what}`);
  switch (type) {
    case 'bit':
      if (typeof value === 'boolean') return value ? '1' : '0';
      if (value === 0 || value === 1) return String(value);
      throw bad('a boolean');
    case 'int':
    case 'bigint': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw bad('an integer');
      return String(n);
    }
    case 'decimal(12,3)': {
      const s = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
      if (typeof s !== 'string' || !/^-?\d{1,9}(\.\d{1,3})?$/.test(s)) throw bad('a decimal(12,3)');
      return s;
    }
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
        throw bad('a YYYY-MM-DD date');
      }
      return `CAST('${value}' AS DATE)`;
    case 'datetimeoffset(3)': {
      const t = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      if (Number.isNaN(t)) throw bad('an ISO 8601 instant');
      return `CAST('${new Date(t).toISOString().replace('Z', '+00:00')}' AS DATETIMEOFFSET(3))`;
    }
    default:
      return `N'${String(value).replace(/'/g, "''")}'`;
  }
}

/**
 * A parameterised statement with its parameters written in as literals (`@name` → literal),
 * for a script. Variables the text declares itself and `@@` functions are left alone.
 * @throws EssError `bad_request` as {@link tsqlLiteral}
 */
export function inlineStatement(stmt: MssqlStatement): string {
  const byName = new Map(stmt.params.map((p) => [p.name, tsqlLiteral(p.type, p.value)]));
  // Only outside string literals: the generated texts hold no '@' inside quotes, but be exact.
  return stmt.text
    .split(/('(?:[^']|'')*')/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/(?<![@\w])@(\w+)/g, (m, name: string) => byName.get(name) ?? m)))
    .join('');
}
