// One admin socket, two protocols: HTTP (wolfguard-ctl, the tests) and JSON
// lines (an operator with socat). The first bytes tell them apart: an HTTP
// request starts with a method, upper-case letters and a space; anything
// else (a "{", or garbage) is the line protocol, which answers garbage with
// an error line. Pure.

export type SniffResult = 'http' | 'json' | 'undecided';

/** Longer than any method (the longest registered ones are under 17 letters). */
const MAX_METHOD = 16;
const SPACE = 0x20;
const UPPER_A = 0x41;
const UPPER_Z = 0x5a;

export function sniffProtocol(head: Uint8Array): SniffResult {
  const n = Math.min(head.length, MAX_METHOD + 1);
  for (let i = 0; i < n; i++) {
    const c = head[i]!;
    if (c === SPACE) return i > 0 ? 'http' : 'json';
    if (c < UPPER_A || c > UPPER_Z) return 'json';
  }
  return head.length > MAX_METHOD ? 'json' : 'undecided';
}
