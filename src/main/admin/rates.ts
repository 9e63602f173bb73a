// Recent rates for `wolfguard-ctl status` (throughput, handshakes/s). The
// counters behind them only grow, so a rate is the difference of two samples
// over the time between them. A lifetime average would hide a gateway that
// went quiet an hour ago, so samples are taken in the background and the
// rate is measured against the oldest one kept (a window of ~10-15 s).

import type { ChannelStats } from '../../workers/messages';

export interface Totals {
  bytesFromClients: number;
  bytesToClients: number;
  handshakes: number;
}

export interface Rates {
  /** Seconds the rates below were measured over. */
  windowSeconds: number;
  bytesPerSecondFromClients: number;
  bytesPerSecondToClients: number;
  handshakesPerSecond: number;
}

interface Sample extends Totals {
  at: number;
}

/** How often the admin server samples the totals. */
export const RATE_SAMPLE_MS = 5_000;
/** Samples kept: the window is (KEPT - 1) to KEPT sample periods long. */
const KEPT = 3;

export class RateWindow {
  readonly #samples: Sample[] = [];

  constructor(start: number) {
    // Counters start at zero with the gateway: until the first sample, rates are since start.
    this.#samples.push({ at: start, bytesFromClients: 0, bytesToClients: 0, handshakes: 0 });
  }

  add(at: number, t: Totals): void {
    this.#samples.push({ at, ...t });
    if (this.#samples.length > KEPT) this.#samples.shift();
  }

  rates(at: number, t: Totals): Rates {
    const old = this.#samples[0]!;
    const secs = Math.max(0.001, (at - old.at) / 1000);
    // A restarted shard starts its counters again: a negative difference is no traffic, not negative traffic.
    const per = (now: number, then: number) => Math.round((Math.max(0, now - then) / secs) * 100) / 100;
    return {
      windowSeconds: Math.round(secs * 10) / 10,
      bytesPerSecondFromClients: per(t.bytesFromClients, old.bytesFromClients),
      bytesPerSecondToClients: per(t.bytesToClients, old.bytesToClients),
      handshakesPerSecond: per(t.handshakes, old.handshakes),
    };
  }
}

/**
 * What the tunnels carried, TLS and DTLS together, over every shard: the
 * clients' bytes in and out (plaintext, CSTP framing included). Not the TUN
 * counters: a TUN read also counts packets for nobody (the kernel's own IPv6
 * solicitations at start-up, addresses without a tunnel), and a paused
 * tunnel's packets are read and then dropped.
 */
export function tunnelTotals(shards: ReadonlyArray<{ channels: ChannelStats }>, handshakes: number): Totals {
  let from = 0;
  let to = 0;
  for (const { channels } of shards) {
    from += channels.tls.bytesIn + channels.dtls.bytesIn;
    to += channels.tls.bytesOut + channels.dtls.bytesOut;
  }
  return { bytesFromClients: from, bytesToClients: to, handshakes };
}
