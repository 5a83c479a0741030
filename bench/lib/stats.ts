/** Small statistics helpers of the benchmark. Times in ms. */

/** Latency summary, ms. */
export interface LatencySummary {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile of a sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** p50/p95/p99/max of samples (ms), rounded to 0.1 ms. */
export function summarize(samples: readonly number[]): LatencySummary {
  const s = [...samples].sort((a, b) => a - b);
  const r = (v: number) => (Number.isFinite(v) ? Math.round(v * 10) / 10 : NaN);
  return { n: s.length, p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), p99: r(percentile(s, 99)), max: r(s[s.length - 1] ?? NaN) };
}

/** Wall-clock instant in ms with sub-ms precision (same clock as PostgreSQL's `now()`). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Rate per second, rounded. */
export function perSecond(count: number, ms: number): number {
  return ms > 0 ? Math.round((count * 1000) / ms) : 0;
}
