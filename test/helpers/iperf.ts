// iperf3 through the tunnel: a one-shot server (-s -1) in the lan namespace,
// the client in a client namespace, results from the client's JSON report
// (which carries both the sender's and the receiver's totals).
import { WolfguardError, ErrorCodes } from '../../src/common/errors';
import { spawnInNs, tryExecInNs } from './netns';
import { exitOf, stopChild } from './reaper';

const IPERF = '/usr/bin/iperf3';
const DEFAULT_PORT = 5201;
const SERVER_READY_TIMEOUT_MS = 5_000;
/** Beyond -t: connection setup, the final result exchange, a slow tunnel. */
const CLIENT_SLACK_MS = 20_000;
const SERVER_EXIT_GRACE_MS = 3_000;

export interface IperfOptions {
  serverNs: string;
  /** Address the client connects to (the lan host's). */
  serverIp: string;
  clientNs: string;
  seconds: number;
  /** -R: the server sends, i.e. gateway → client ("download"). */
  reverse?: boolean;
  /** Distinct per concurrent run in the same server namespace. */
  port?: number;
  /** --bind-dev: needed when several tunnels share one client namespace. */
  bindDev?: string;
  /** -P parallel streams. */
  parallel?: number;
  extraArgs?: string[];
}

export interface IperfResult {
  /** Bytes the sending side wrote. */
  sentBytes: number;
  /** Bytes the receiving side read: what crossed the tunnel. */
  receivedBytes: number;
  sentBitsPerSecond: number;
  receivedBitsPerSecond: number;
  /** Receiver's measured duration. */
  seconds: number;
  /** TCP retransmits on the sender (undefined when the sender is the remote side). */
  retransmits: number | undefined;
  argv: string[];
  raw: unknown;
}

interface IperfSum {
  bytes?: number;
  bits_per_second?: number;
  seconds?: number;
  retransmits?: number;
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new WolfguardError(ErrorCodes.PROTOCOL, `iperf3 JSON lacks ${what}`);
  return v;
}

/** Totals of an `iperf3 -J` client report. */
export function parseIperfJson(text: string, argv: string[] = []): IperfResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new WolfguardError(ErrorCodes.PROTOCOL, `iperf3 output is not JSON: ${text.slice(0, 200)}`);
  }
  if (parsed === null || typeof parsed !== 'object') throw new WolfguardError(ErrorCodes.PROTOCOL, `iperf3 output is not a JSON object (sum_sent missing): ${text.slice(0, 200)}`);
  const j = parsed as { error?: unknown; end?: { sum_sent?: IperfSum; sum_received?: IperfSum } };
  if (typeof j.error === 'string') throw new WolfguardError(ErrorCodes.PROTOCOL, `iperf3: ${j.error}`);
  const end = typeof j.end === 'object' && j.end !== null ? j.end : {};
  const sent: IperfSum = typeof end.sum_sent === 'object' && end.sum_sent !== null ? end.sum_sent : {};
  const recv: IperfSum = typeof end.sum_received === 'object' && end.sum_received !== null ? end.sum_received : {};
  return {
    sentBytes: num(sent.bytes, 'end.sum_sent.bytes'),
    receivedBytes: num(recv.bytes, 'end.sum_received.bytes'),
    sentBitsPerSecond: num(sent.bits_per_second, 'end.sum_sent.bits_per_second'),
    receivedBitsPerSecond: num(recv.bits_per_second, 'end.sum_received.bits_per_second'),
    seconds: num(recv.seconds, 'end.sum_received.seconds'),
    retransmits: typeof sent.retransmits === 'number' ? sent.retransmits : undefined,
    argv,
    raw: j,
  };
}

export async function runIperf(opts: IperfOptions): Promise<IperfResult> {
  const port = opts.port ?? DEFAULT_PORT;
  const server = spawnInNs(opts.serverNs, IPERF, ['-s', '-1', '-p', String(port), '--forceflush'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let serverOut = '';
  server.stdout!.setEncoding('utf8').on('data', (d: string) => (serverOut += d));
  server.stderr!.setEncoding('utf8').on('data', (d: string) => (serverOut += d));
  try {
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), SERVER_READY_TIMEOUT_MS);
      const check = () => {
        if (serverOut.includes('Server listening')) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      server.stdout!.on('data', check);
      void exitOf(server).then(() => {
        clearTimeout(timer);
        resolve(false);
      });
      check();
    });
    if (!ready) throw new Error(`iperf3 server did not start in ${opts.serverNs}: ${serverOut}`);
    const args = ['-c', opts.serverIp, '-p', String(port), '-t', String(opts.seconds), '-J'];
    if (opts.reverse === true) args.push('-R');
    if (opts.bindDev !== undefined) args.push('--bind-dev', opts.bindDev);
    if (opts.parallel !== undefined) args.push('-P', String(opts.parallel));
    args.push(...(opts.extraArgs ?? []));
    const r = await tryExecInNs(opts.clientNs, IPERF, args, { timeoutMs: opts.seconds * 1000 + CLIENT_SLACK_MS });
    if (r.code !== 0 && r.stdout.trim() === '') throw new Error(`iperf3 client failed (${r.code ?? r.signal}): ${r.stderr}`);
    return parseIperfJson(r.stdout, [IPERF, ...args]);
  } finally {
    // -1 makes the server leave after one test; only a failed run leaves it waiting.
    await stopChild(server, 'SIGTERM', SERVER_EXIT_GRACE_MS).catch(() => undefined);
  }
}
