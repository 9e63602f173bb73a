// Event-loop delay and utilization of the calling thread (a shard, or the
// main thread), for the metrics endpoint.
//
// A timer every LAG_RESOLUTION_MS records how long each period really took;
// it wakes an idle thread each time, so it starts with the first read (a
// scrape) and not before, and each read reports and empties its histogram.
// Not Node's monitorEventLoopDelay(): its histogram records the time between
// two firings and a reset forgets the last firing, so the first period after
// each read recorded nothing and a stall ending in it went unseen (a unit
// test read 0.27 ms after a 300 ms block). Here the last firing survives the
// read. Utilization comes from libuv's idle-time counters, which cost nothing.
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';

/**
 * The delay timer's period. 100 ms: ten wake-ups a second per thread while
 * metrics are scraped (the 20 ms it replaced made 50, prom-client's default
 * monitor 100 more in the main thread). A stall longer than the period
 * always shows; a shorter one shows when the timer falls due during it.
 */
export const LAG_RESOLUTION_MS = 100;
const NS_PER_MS = 1e6;

export interface LoopFigures {
  /** p99 of how late the timer fired since the previous read, ms (absent on the first read). */
  lagP99Ms?: number;
  /** Share of the time since the previous read the loop was busy, 0..1 (absent on the first read). */
  loopUtilization?: number;
}

export class LoopMonitor {
  /** Each period's length, ns. */
  #periods: RecordableHistogram | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastFiring = 0;
  #since = performance.eventLoopUtilization();

  read(): LoopFigures {
    const elu = performance.eventLoopUtilization(this.#since);
    this.#since = performance.eventLoopUtilization();
    if (this.#periods === undefined) {
      const periods = createHistogram();
      this.#periods = periods;
      this.#lastFiring = performance.now();
      this.#timer = setInterval(() => {
        const now = performance.now();
        periods.record(Math.max(1, Math.round((now - this.#lastFiring) * NS_PER_MS)));
        this.#lastFiring = now;
      }, LAG_RESOLUTION_MS);
      this.#timer.unref();
      return {};
    }
    // A period's length is the timer's own period plus how late it fired.
    const lagP99Ms = this.#periods.count === 0 ? 0 : Math.max(0, this.#periods.percentile(99) / NS_PER_MS - LAG_RESOLUTION_MS);
    this.#periods.reset();
    return { lagP99Ms, loopUtilization: elu.utilization };
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
