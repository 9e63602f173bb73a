// Round-trip times as an HDR histogram (microseconds, 3 significant digits)
// and the percentiles the bench reports. Pure.
import * as hdr from 'hdr-histogram-js';

/** Longest RTT the histogram can hold: 60 s, far beyond a probe's timeout. */
const HIGHEST_TRACKABLE_US = 60_000_000;
const SIGNIFICANT_DIGITS = 3;

export interface LatencySummary {
  count: number;
  lost: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export function newRttHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_TRACKABLE_US, numberOfSignificantValueDigits: SIGNIFICANT_DIGITS });
}

/** Records one RTT, clamped into the histogram's range (a sample is never dropped silently). */
export function recordRtt(h: hdr.Histogram, us: number): void {
  h.recordValue(Math.min(HIGHEST_TRACKABLE_US, Math.max(1, Math.round(us))));
}

/** A histogram as the probe prints it, for merging runs in the parent. */
export function encodeRtt(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** One summary over several runs: their histograms added, their losses summed. */
export function summarizeRuns(runs: ReadonlyArray<{ histogram: string; lost: number }>): LatencySummary {
  const h = newRttHistogram();
  for (const r of runs) h.add(hdr.decodeFromCompressedBase64(r.histogram));
  return summarize(h, runs.reduce((n, r) => n + r.lost, 0));
}

export function summarize(h: hdr.Histogram, lost: number): LatencySummary {
  const count = h.totalCount;
  const at = (p: number) => (count === 0 ? NaN : h.getValueAtPercentile(p));
  return { count, lost, p50Us: at(50), p99Us: at(99), p999Us: at(99.9), maxUs: count === 0 ? NaN : h.maxValue };
}
