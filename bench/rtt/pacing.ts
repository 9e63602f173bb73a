// Constant-rate pacing of a packet sender. Pure.

const BITS_PER_BYTE = 8;
const NS_PER_S = 1e9;

/**
 * Packets to send now so that, `elapsedNs` into the run, `sent` catches up
 * with `bitsPerSecond` of `packetBytes`-byte datagrams, at most `maxBurst`
 * (a sender that fell behind must not flood to catch up). 0 for nonsense input.
 */
export function packetsDue(bitsPerSecond: number, packetBytes: number, elapsedNs: number, sent: number, maxBurst: number): number {
  if (!(bitsPerSecond > 0) || !(packetBytes > 0) || !(elapsedNs >= 0) || !(maxBurst > 0)) return 0;
  const target = Math.floor((bitsPerSecond * elapsedNs) / NS_PER_S / (packetBytes * BITS_PER_BYTE));
  return Math.max(0, Math.min(Math.floor(maxBurst), target - sent));
}
