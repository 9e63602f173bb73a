// The main thread's view of its shards: starts N worker_threads and hands
// each accepted connection to the one with the fewest live connections.
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { closeFd } from '../../native/lib';
import type { FromShard, ShardConfig, ToShard } from '../workers/messages';

export interface ShardPoolOptions {
  /** Number of shards; default WOLFGUARD_WORKERS or the number of CPUs. */
  workers?: number;
  certFile: string;
  keyFile: string;
  handshakeTimeoutMs?: number;
}

interface ShardState {
  worker: Worker;
  ready: boolean;
  /** Connections handed over and not yet reported closed. */
  live: number;
  /** Connections handed over since start (for spread checks and metrics). */
  total: number;
}

export function defaultWorkerCount(): number {
  const env = Number(process.env.WOLFGUARD_WORKERS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, os.availableParallelism());
}

export class ShardPool {
  readonly #shards: ShardState[] = [];

  constructor(options: ShardPoolOptions) {
    const n = options.workers ?? defaultWorkerCount();
    const script = path.join(__dirname, '..', 'workers', 'shard.js');
    for (let i = 0; i < n; i++) {
      const cfg: ShardConfig = {
        shard: i,
        certFile: options.certFile,
        keyFile: options.keyFile,
        handshakeTimeoutMs: options.handshakeTimeoutMs ?? 30_000,
      };
      const worker = new Worker(script, { workerData: cfg });
      const state: ShardState = { worker, ready: false, live: 0, total: 0 };
      worker.on('message', (m: FromShard) => this.#onMessage(state, m));
      this.#shards.push(state);
    }
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
    else if (m.type === 'released') s.live = Math.max(0, s.live - m.count);
  }

  /** Posts an accepted connection's fd to the least-loaded shard (ties: lowest index). */
  dispatch(fd: number, peer: { address: string; port: number }): number {
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

  stats(): Array<{ shard: number; live: number; total: number }> {
    return this.#shards.map((s, shard) => ({ shard, live: s.live, total: s.total }));
  }

  async close(): Promise<void> {
    await Promise.all(this.#shards.map((s) => s.worker.terminate()));
  }
}
