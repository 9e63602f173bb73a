// Rows whose figures drift with the shared machine's noisy spells measure in
// turns: each gateway is started PASSES times, in the order A B B A, and its
// runs are shared out among its passes, so a spell (or its end) lands on
// both sides instead of on all of one gateway's runs.
import { GATEWAYS, type GatewayName } from './gateways';

const QUICK = process.env.BENCH_QUICK !== undefined && process.env.BENCH_QUICK !== '';

/** Gateway starts per side (1 in a quick run). */
export const PASSES = QUICK ? 1 : 2;

/** The order of the passes: A B, B A, A B, ... */
export function passOrder(passes: number): GatewayName[] {
  const order: GatewayName[] = [];
  for (let i = 0; i < passes; i++) order.push(...(i % 2 === 0 ? GATEWAYS : [...GATEWAYS].reverse()));
  return order;
}

/** How many of a side's `total` runs its pass `i` (0-based) takes: the earlier passes take what does not divide evenly. */
export function runsInPass(total: number, passes: number, i: number): number {
  return Math.floor(total / passes) + (i < total % passes ? 1 : 0);
}
