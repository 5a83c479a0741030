/**
 * Exact decimal handling of energy (kWh) values. Energy is stored as `NUMERIC(12,3)` and never
 * passes through floating point arithmetic here: inputs are rounded half-up to 0.001 kWh on their
 * decimal text, sums are done in integer milli-kWh (bigint).
 */

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** Largest kWh value a `NUMERIC(12,3)` column holds: 999,999,999.999 kWh. */
export const MAX_MILLI_KWH = 999_999_999_999n;

/**
 * Parses a non-negative kWh amount (number or decimal text) into integer milli-kWh, rounding half
 * up to 0.001 kWh. Numbers are read through `toFixed(9)`, which removes binary noise such as
 * `7.098000000000001`.
 * @returns milli-kWh, or `undefined` when the input is not a non-negative decimal in range.
 */
export function parseMilliKwh(input: unknown): bigint | undefined {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return undefined;
    text = input.toFixed(9);
  } else if (typeof input === 'string') {
    text = input.trim();
  } else {
    return undefined;
  }
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const whole = BigInt(m[1]!);
  const frac = (m[2] ?? '').padEnd(4, '0');
  let milli = whole * 1000n + BigInt(frac.slice(0, 3));
  if (frac.charCodeAt(3) >= 53 /* '5' */) milli += 1n;
  return milli <= MAX_MILLI_KWH ? milli : undefined;
}

/** Formats milli-kWh as plain decimal text with three decimals (`7098n` → `"7.098"`). */
export function formatMilliKwh(milli: bigint): string {
  const neg = milli < 0n;
  const abs = neg ? -milli : milli;
  const s = `${abs / 1000n}.${(abs % 1000n).toString().padStart(3, '0')}`;
  return neg ? `-${s}` : s;
}

/** Rounds a kWh input half-up to 0.001 and returns it as decimal text, or undefined if invalid. */
export function normalizeKwh(input: unknown): string | undefined {
  const m = parseMilliKwh(input);
  return m === undefined ? undefined : formatMilliKwh(m);
}
