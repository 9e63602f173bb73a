// Repeated measurements on a shared, noisy machine: each is taken
// BENCH_REPEATS times in a row on the same gateway and session, and the
// table shows the median of each figure, so one scheduling hiccup of the
// 2-core VM (the client, the load and the gateway share the cores) does not
// decide a row.
const QUICK = process.env.BENCH_QUICK !== undefined && process.env.BENCH_QUICK !== '';

/** Runs of each repeated measurement (1 in a quick run). */
export const REPEATS = Math.max(1, Math.floor(Number(process.env.BENCH_REPEATS ?? (QUICK ? 1 : 3))) || 1);

/** The median (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Field by field median of records with the same numeric fields. */
export function medianOf<T extends object>(runs: readonly T[]): T {
  if (runs.length === 0) throw new Error('medianOf: no runs');
  const out = { ...runs[0]! } as Record<string, unknown>;
  for (const k of Object.keys(out)) {
    if (typeof out[k] === 'number') out[k] = median(runs.map((r) => (r as Record<string, number>)[k]!));
  }
  return out as T;
}
