// The main thread's view of its shards: starts N worker_threads and hands
// each accepted connection to the one with the fewest live connections.
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { closeFd, newTicketKey, type TunFraming } from '../../native/lib';
import { envInt } from '../common/env';
import type { FromShard, MeshConfig, PeerInfo, ShardConfig, ShardStats, ToShard } from '../workers/messages';
import type { GatewayConfig } from './config/types';
import type { PlaneCpus } from './plane-cpus';

// V8's memory reducer waits 8 s after an isolate's allocation rate drops and
// then runs up to three blocking mark-compacts to shrink its heap. A shard's
// JavaScript allocates only around logins, so that is exactly when it fires:
// the bench's idle probe saw 5-30 ms stalls of every tunnel of the shard. The
// flag is read when an isolate is set up, so it covers the shards created
// after this line (not the main thread's own isolate). A shard's heap then
// keeps the size its busiest moment gave it: a few MB.
v8.setFlagsFromString('--no-memory-reducer');

export interface ShardPoolOptions {
  /** Number of shards; default WOLFGUARD_WORKERS or the number of CPUs. */
  workers?: number;
  certFile: string;
  keyFile: string;
  handshakeTimeoutMs?: number;
  /** The gateway's configuration; absent = TLS and HTTP only. */
  gateway?: GatewayConfig;
  /** One TUN queue fd per shard (the shard owns it once posted). */
  tunFds?: number[];
  /** How they were opened (openTun()). */
  tunFraming?: TunFraming;
  /** The data-plane mesh each shard's pump joins. */
  mesh?: MeshConfig[];
  /** Time slice for each shard's data-plane thread, µs (TunnelPumpOptions). */
  planeSliceUs?: number;
  /** The CPU for each shard's data-plane thread, by shard index, and when it is kept there (planeCpus(); absent: none kept). */
  planeCpus?: PlaneCpus;
  /** Milliseconds between TLS ticket-key rotations (default TICKET_KEY_ROTATE_MS; 0 = never). */
  ticketKeyRotateMs?: number;
  /** Everything a shard sends besides its own bookkeeping (login, connect, tunnel-closed). */
  onMessage?: (m: FromShard) => void;
  /**
   * A shard died (after start-up). The pool restarts it; this callback first
   * settles what the dead shard held, and returns the new shard's TUN queue fd
   * (or undefined when there is no data plane).
   */
  onShardExit?: (shard: number, code: number) => number | undefined;
}

interface ShardState {
  cfg: ShardConfig;
  startedAt: number;
  restarts: number;
  worker: Worker;
  ready: boolean;
  /** Connections handed over and not yet reported closed. */
  live: number;
  /** Connections handed over since start (for spread checks and metrics). */
  total: number;
}

/** A shard thread's entry point (loaded again, after the privilege drop, when a shard restarts). */
export const SHARD_SCRIPT = path.join(__dirname, '..', 'workers', 'shard.js');

/** How long a shard may take to close its tunnels on stop before it is terminated. */
export const SHARD_STOP_GRACE_MS = 2000;
/** A shard that dies within this long of its start waits this long before the next start. */
export const SHARD_RESTART_BACKOFF_MS = 1000;
/** A shard answers a stats request at its next loop turn; one that takes a second is stuck. */
export const SHARD_STATS_TIMEOUT_MS = 1000;
/**
 * How often the shards' shared TLS ticket key is replaced. The previous key
 * still decrypts (and the client gets a fresh ticket), so a ticket lives for
 * one to two periods at most, whatever lifetime wolfSSL advertises; a stolen
 * key opens no session older than that.
 */
export const TICKET_KEY_ROTATE_MS = 60 * 60 * 1000;

export function defaultWorkerCount(): number {
  return envInt('WOLFGUARD_WORKERS', Math.max(1, os.availableParallelism()));
}

export class ShardPool {
  readonly #shards: ShardState[] = [];
  #forward: ((m: FromShard) => void) | undefined;
  readonly #statsWaiters = new Map<number, (s: ShardStats) => void>();
  #nextStats = 1;
  // One set of ticket keys for every shard: the acceptor spreads a client's
  // reconnects over the shards, and each must resume what another issued.
  #ticketKeys: Uint8Array[] = [newTicketKey()];
  #ticketTimer: NodeJS.Timeout | undefined;

  constructor(options: ShardPoolOptions) {
    this.#forward = options.onMessage;
    const n = options.workers ?? defaultWorkerCount();
    const rotateMs = options.ticketKeyRotateMs ?? TICKET_KEY_ROTATE_MS;
    if (rotateMs > 0) {
      this.#ticketTimer = setInterval(() => this.rotateTicketKeys(), rotateMs);
      this.#ticketTimer.unref();
    }
    for (let i = 0; i < n; i++) {
      const cfg: ShardConfig = {
        shard: i,
        certFile: options.certFile,
        keyFile: options.keyFile,
        handshakeTimeoutMs: options.handshakeTimeoutMs ?? 30_000,
        ticketKeys: this.#ticketKeys,
      };
      if (options.gateway) cfg.gateway = options.gateway;
      if (options.tunFds?.[i] !== undefined) cfg.tunFd = options.tunFds[i];
      if (options.tunFraming !== undefined) cfg.tunFraming = options.tunFraming;
      if (options.mesh?.[i]) cfg.mesh = options.mesh[i];
      if (options.planeSliceUs !== undefined) cfg.planeSliceUs = options.planeSliceUs;
      const cpu = options.planeCpus?.cpus[i];
      if (cpu !== undefined) {
        cfg.planeCpu = cpu;
        cfg.planeCpuKeep = options.planeCpus!.keep;
      }
      const state = { cfg, startedAt: Date.now(), restarts: 0, ready: false, live: 0, total: 0 } as ShardState;
      this.#spawn(state);
      this.#shards.push(state);
    }
    this.#onShardExit = options.onShardExit;
  }

  #onShardExit: ShardPoolOptions['onShardExit'];
  /** Receives TLS handshake durations (ms) as shards report them. */
  onHandshakes: ((ms: number[]) => void) | undefined;
  #handshakes = 0;
  #closing = false;

  /** TLS handshakes the shards finished since start (restarted shards included). */
  get handshakes(): number {
    return this.#handshakes;
  }

  #spawn(state: ShardState): void {
    const worker = new Worker(SHARD_SCRIPT, { workerData: state.cfg });
    state.worker = worker;
    state.startedAt = Date.now();
    worker.on('message', (m: FromShard) => this.#onMessage(state, m));
    // A shard's uncaught error ends that thread only; 'exit' follows.
    worker.on('error', () => undefined);
    worker.on('exit', (code) => {
      if (this.#closing || state.worker !== worker || !state.ready) return;
      this.#restart(state, code);
    });
  }

  /** Brings a dead shard back; its clients reconnect with their cookies. */
  #restart(state: ShardState, code: number): void {
    state.ready = false;
    state.live = 0;
    state.restarts++;
    const fd = this.#onShardExit?.(state.cfg.shard, code);
    if (fd !== undefined) state.cfg.tunFd = fd;
    else delete state.cfg.tunFd;
    // A shard that dies at once again is not restarted in a tight loop.
    const delay = Date.now() - state.startedAt < SHARD_RESTART_BACKOFF_MS ? SHARD_RESTART_BACKOFF_MS : 0;
    setTimeout(() => {
      if (!this.#closing) this.#spawn(state);
    }, delay).unref();
  }

  /** A reloaded gateway configuration, for every shard (and for shards restarted later). */
  reconfigure(gateway: GatewayConfig): void {
    for (const s of this.#shards) {
      s.cfg.gateway = gateway;
      s.worker.postMessage({ type: 'config', gateway } satisfies ToShard);
    }
  }

  /** A new current ticket key for every shard (and shards restarted later); the old one stays as the previous. */
  rotateTicketKeys(): void {
    this.#ticketKeys = [newTicketKey(), this.#ticketKeys[0]!];
    for (const s of this.#shards) {
      s.cfg.ticketKeys = this.#ticketKeys;
      s.worker.postMessage({ type: 'ticket-keys', keys: this.#ticketKeys } satisfies ToShard);
    }
  }

  /** How many times each shard was restarted after dying. */
  restarts(): number[] {
    return this.#shards.map((s) => s.restarts);
  }

  /** Resolves when every shard has its context loaded; rejects if one fails to start. */
  ready(): Promise<void> {
    return Promise.all(
      this.#shards.map(
        (s) =>
          new Promise<void>((resolve, reject) => {
            if (s.ready) return resolve();
            s.worker.once('error', reject);
            s.worker.once('exit', (code) => reject(new Error(`shard exited with code ${code} during start-up`)));
            const onMsg = (m: FromShard) => {
              if (m.type === 'ready') {
                s.worker.off('message', onMsg);
                resolve();
              }
            };
            s.worker.on('message', onMsg);
          }),
      ),
    ).then(() => undefined);
  }

  #onMessage(s: ShardState, m: FromShard): void {
    if (m.type === 'ready') s.ready = true;
    else if (m.type === 'released') {
      s.live = Math.max(0, s.live - m.count);
      this.#handshakes += m.handshakeMs.length;
      if (m.handshakeMs.length > 0) this.onHandshakes?.(m.handshakeMs);
    }
    else if (m.type === 'stats') this.#statsWaiters.get(m.id)?.(m.stats);
    else this.#forward?.(m);
  }

  get size(): number {
    return this.#shards.length;
  }

  /** Sends a message to one shard (replies, kicks). */
  post(shard: number, m: ToShard): void {
    this.#shards[shard]?.worker.postMessage(m);
  }

  /** Posts an accepted connection's fd to the least-loaded shard (ties: lowest index). */
  dispatch(fd: number, peer: PeerInfo): number {
    let best = -1;
    for (let i = 0; i < this.#shards.length; i++) {
      const s = this.#shards[i]!;
      if (!s.ready) continue;
      if (best < 0 || s.live < this.#shards[best]!.live) best = i;
    }
    if (best < 0) {
      closeFd(fd);
      return -1;
    }
    const s = this.#shards[best]!;
    s.live++;
    s.total++;
    const msg: ToShard = { type: 'adopt', fd, peer };
    s.worker.postMessage(msg);
    return best;
  }

  /**
   * Each shard's own counters (pump, tunnels); a shard that does not answer
   * within a second is left out. `loop`: also its event-loop delay and
   * utilization since the previous request that asked for them (the metrics
   * endpoint's).
   */
  async shardStats(options: { loop?: boolean } = {}): Promise<ShardStats[]> {
    const out = await Promise.all(
      this.#shards.map(
        (s) =>
          new Promise<ShardStats | undefined>((resolve) => {
            const id = this.#nextStats++;
            const t = setTimeout(() => {
              this.#statsWaiters.delete(id);
              resolve(undefined);
            }, SHARD_STATS_TIMEOUT_MS);
            this.#statsWaiters.set(id, (st) => {
              clearTimeout(t);
              this.#statsWaiters.delete(id);
              resolve(st);
            });
            s.worker.postMessage({ type: 'stats', id, ...(options.loop === true ? { loop: true } : {}) } satisfies ToShard);
          }),
      ),
    );
    return out.filter((x): x is ShardStats => x !== undefined);
  }

  stats(): Array<{ shard: number; live: number; total: number }> {
    return this.#shards.map((s, shard) => ({ shard, live: s.live, total: s.total }));
  }

  /** Asks each shard to stop (closing its tunnels), then ends the threads. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#ticketTimer);
    for (const s of this.#shards) s.worker.postMessage({ type: 'stop' } satisfies ToShard);
    await Promise.all(
      this.#shards.map(
        (s) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => void s.worker.terminate().then(() => resolve()), SHARD_STOP_GRACE_MS);
            s.worker.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
  }
}
