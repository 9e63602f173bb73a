// Event-loop delay and utilization of the calling thread (a shard, or the
// main thread), for the metrics endpoint.
//
// Node's delay monitor runs a timer every LAG_RESOLUTION_MS, which wakes an
// idle thread each time, so it starts with the first read (a scrape) and not
// before; each read reports and restarts it. Utilization comes from libuv's
// idle-time counters, which cost nothing.
//
// Node's histogram records the time between two firings of its timer, and a
// reset forgets the last firing: the first period after each read records
// nothing, so a stall that ends within it is not seen (at most 100 ms blind
// per scrape, about 1% of a 15 s scrape interval).
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';

/**
 * The delay monitor's timer period. 100 ms: ten wake-ups a second per thread
 * while metrics are scraped (the 20 ms it replaced made 50, prom-client's
 * default monitor 100 more in the main thread). A stall longer than the
 * period always shows; a shorter one shows when the timer falls due during it.
 */
export const LAG_RESOLUTION_MS = 100;
const NS_PER_MS = 1e6;

export interface LoopFigures {
  /** p99 of how late the monitor's timer fired since the previous read, ms (absent on the first read). */
  lagP99Ms?: number;
  /** Share of the time since the previous read the loop was busy, 0..1 (absent on the first read). */
  loopUtilization?: number;
}

export class LoopMonitor {
  #lag: IntervalHistogram | undefined;
  #since = performance.eventLoopUtilization();

  read(): LoopFigures {
    const elu = performance.eventLoopUtilization(this.#since);
    this.#since = performance.eventLoopUtilization();
    if (this.#lag === undefined) {
      this.#lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
      this.#lag.enable();
      return {};
    }
    // The histogram holds the timer's whole period: what is late is the rest.
    const lagP99Ms = Math.max(0, this.#lag.percentile(99) / NS_PER_MS - LAG_RESOLUTION_MS);
    this.#lag.reset();
    return { lagP99Ms, loopUtilization: elu.utilization };
  }

  stop(): void {
    this.#lag?.disable();
  }
}
