// `npm run bench -- admission`: admission decisions per second on one core,
// for a table of 50,000 prefix rules (IPv4 and IPv6, nested, mixed actions)
// with the per-address rate limit applied, against Node's own prefix matcher
// (net.BlockList) holding the same prefixes and doing no rate limiting.
// The peers are 4096 distinct addresses as strings, as the acceptor sees them.
import * as net from 'node:net';
import { AdmissionEngine } from '../../src/main/admission/engine';
import { validateAdmissionRules } from '../../src/main/admission/rules-config';
import type { Row, Table } from '../lib/report';

const RULES = 50_000;
const PEERS = 4096;
/** Distinct addresses of the second row: 16 x the engine's address memo, so nearly every decision misses it. */
const NEW_PEERS = 1 << 20;
const SECONDS = Number(process.env.BENCH_SECONDS ?? (process.env.BENCH_QUICK ? 1 : 3));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
}

function v4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** ocserv's ban points on, with a threshold no peer of the loop reaches: the scoring work without the ban short-cut. */
const UNREACHED_BAN_SCORE = 1_000_000_000;

function buildRules(): { json: Record<string, unknown>; prefixes: Array<[string, number, 'ipv4' | 'ipv6']> } {
  const r = rng(7);
  const seen = new Set<string>();
  const rules: unknown[] = [];
  const prefixes: Array<[string, number, 'ipv4' | 'ipv6']> = [];
  while (rules.length < RULES) {
    const i = rules.length;
    let text: string;
    let addr: string;
    let len: number;
    let fam: 'ipv4' | 'ipv6';
    if (i % 10 === 9) {
      len = 32 + (r() % 33);
      const words = [0x20010db8, r(), r(), r()];
      const groups = words.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]);
      // Zero the host bits group-wise (the rule parser refuses host bits).
      const keepGroups = Math.ceil(len / 16);
      const g = groups.map((x, k) => (k < keepGroups ? x : '0'));
      const last = keepGroups - 1;
      const bitsInLast = len - last * 16;
      g[last] = ((parseInt(g[last]!, 16) & ((0xffff << (16 - bitsInLast)) & 0xffff)) >>> 0).toString(16);
      addr = g.join(':');
      fam = 'ipv6';
    } else {
      len = 8 + (r() % 25);
      const mask = len === 32 ? 0xffffffff : ~(0xffffffff >>> len) >>> 0;
      addr = v4((r() & mask) >>> 0);
      fam = 'ipv4';
    }
    text = `${addr}/${len}`;
    if (seen.has(text)) continue;
    seen.add(text);
    const action = i % 3 === 0 ? 'reject' : i % 3 === 1 ? 'accept' : 'rate_limit';
    rules.push(
      action === 'rate_limit'
        ? { id: `r${i}`, type: 'prefix', remote_addr: text, action, max_connections_per_minute: 1_000_000, penalty_duration_sec: 1 }
        : { id: `r${i}`, type: 'prefix', remote_addr: text, action },
    );
    prefixes.push([addr, len, fam]);
  }
  return {
    // Ban scoring off: with ocserv's default of one point per connection, every
    // peer of this loop is banned after 80 attempts, and the bench would time
    // the ban short-cut instead of the prefix lookup and the rate limit.
    json: { default_action: 'rate_limit', default_rate_limit: { max_connections_per_minute: 1_000_000, penalty_duration_sec: 1 }, ban_score: { max_ban_score: 0 }, rules },
    prefixes,
  };
}

/**
 * Address texts as a socket gives them: flat strings. Template literals make
 * cons strings, which every character read would have to walk first.
 */
function flat(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** Decisions per batch; the clock is read once per batch, as the acceptor reads it once per wake-up. */
const BATCH = 65_536;

/** Warm-up: this many decisions, or this long for a slow decider (BlockList: ~50 µs each). */
const WARMUP_DECISIONS = 200_000;
const WARMUP_NS = 500_000_000n;

function loop(decide: (ip: string, now: number) => boolean, peers: string[]): number {
  const mask = peers.length - 1;
  const warmEnd = process.hrtime.bigint() + WARMUP_NS;
  for (let i = 0; i < WARMUP_DECISIONS && ((i & 1023) !== 0 || process.hrtime.bigint() < warmEnd); i++) decide(peers[i & mask]!, Date.now());
  let n = 0;
  let allowed = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(SECONDS * 1e9));
  let now = process.hrtime.bigint();
  while (now < end) {
    const clock = Date.now();
    for (let i = 0; i < BATCH; i++) if (decide(peers[(n + i) & mask]!, clock)) allowed++;
    n += BATCH;
    now = process.hrtime.bigint();
  }
  if (allowed < 0) throw new Error('unreachable');
  // Over the time taken: a slow decider's last batch runs past SECONDS.
  return n / (Number(now - start) / 1e9);
}

export async function benchAdmission(): Promise<Table> {
  const { json, prefixes } = buildRules();
  const engine = new AdmissionEngine({ rules: validateAdmissionRules(json), sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: 60_000 }, seed: 99 });
  const list = new net.BlockList();
  for (const [addr, len, fam] of prefixes) list.addSubnet(addr, len, fam);
  const r = rng(11);
  const peers = Array.from({ length: PEERS }, () => flat(v4(r())));
  const ours = loop((ip, now) => engine.checkConnect(ip, now).allow, peers);
  const scoring = new AdmissionEngine({
    rules: validateAdmissionRules({ ...json, ban_score: { max_ban_score: UNREACHED_BAN_SCORE } }),
    sessions: { maxClients: 0, maxSameClients: 0, pendingTtlMs: 60_000 },
    seed: 99,
  });
  const oursScoring = loop((ip, now) => scoring.checkConnect(ip, now).allow, peers);
  // Every path was taken (prefix accept/reject, rate limit), none short-cut.
  const reasons = new Map<string, number>();
  for (let i = 0; i < PEERS; i++) {
    const d = engine.checkConnect(peers[i]!, Date.now());
    reasons.set(d.reason, (reasons.get(d.reason) ?? 0) + 1);
  }
  const theirs = loop((ip) => !list.check(ip, 'ipv4'), peers);
  // A flood from ever-new addresses: the memo does not help, every decision parses and walks the trie.
  const fresh = Array.from({ length: NEW_PEERS }, () => flat(v4(r())));
  const oursNew = loop((ip, now) => engine.checkConnect(ip, now).allow, fresh);
  const theirsNew = loop((ip) => !list.check(ip, 'ipv4'), fresh);
  const rows: Row[] = [
    { metric: `decisions per second, 50,000 prefixes, one core, ${PEERS} returning peers`, unit: 'M/s', ours: ours / 1e6, theirs: theirs / 1e6, higherIsBetter: true },
    { metric: 'the same, with ban points per connection (ocserv default on; nobody reaches the ban)', unit: 'M/s', ours: oursScoring / 1e6, theirs: theirs / 1e6, higherIsBetter: true },
    { metric: `the same, ${NEW_PEERS} distinct peers (address memo misses)`, unit: 'M/s', ours: oursNew / 1e6, theirs: theirsNew / 1e6, higherIsBetter: true },
  ];
  return {
    title: 'Admission decisions (prefix rules + per-address rate limit) vs node:net BlockList (prefixes only)',
    oursName: 'wolfguard engine',
    theirsName: 'net.BlockList',
    notes: [
      `${RULES} rules (90% IPv4 /8../32, 10% IPv6 /32../64; accept, reject and rate_limit mixed), ${PEERS} distinct IPv4 peers as strings, ${SECONDS} s per side`,
      'ours does more per decision: longest-prefix match, ban list, and the token-bucket rate limit of the address',
      'the engine remembers the last 65,536 address texts: parsed form, matched rule (until a rules reload), its rate-limit and ban-score slots, in one 64-byte record each; the last row defeats that memo (a flood of never-seen addresses: each costs a parse, a trie walk and a table insert)',
      'peers are flat strings as a socket gives them; the clock is read once per 65,536 decisions; the BlockList column is the same loop over the same peers',
      `decision mix over the ${PEERS} peers: ${[...reasons].map(([k, v]) => `${k} ${v}`).join(', ')} (ban scoring off, see the code)`,
    ],
    rows,
  };
}
