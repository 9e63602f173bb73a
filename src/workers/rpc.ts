// Requests a shard makes of the main thread (login, connect) and their
// replies, matched by id. A request the main thread never answers fails after
// a timeout instead of holding a client's connection forever.
import type { MessagePort } from 'node:worker_threads';
import type { ConnectReply, ConnectRequest, LoginReply, LoginRequest } from './messages';

/** Main answers within milliseconds; a password hash takes tens of ms. 10 s means it is gone. */
export const RPC_TIMEOUT_MS = 10_000;

type Pending = { resolve: (r: never) => void; timer: NodeJS.Timeout };
type Omitted<T> = Omit<T, 'id' | 'type' | 'shard'>;

export class MainRpc {
  readonly #port: MessagePort;
  readonly #shard: number;
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  constructor(port: MessagePort, shard: number) {
    this.#port = port;
    this.#shard = shard;
  }

  login(req: Omitted<LoginRequest>): Promise<LoginReply> {
    return this.#call<LoginReply>({ ...req, type: 'login' }, { ok: false, reason: 'the gateway did not answer' });
  }

  connect(req: Omitted<ConnectRequest>): Promise<ConnectReply> {
    return this.#call<ConnectReply>({ ...req, type: 'connect' }, { ok: false, status: 503, reason: 'the gateway did not answer' });
  }

  /** Called with every 'reply' message from the main thread. */
  settle(id: number, result: LoginReply | ConnectReply): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(result as never);
  }

  #call<R>(msg: Omit<LoginRequest, 'id' | 'shard'> | Omit<ConnectRequest, 'id' | 'shard'>, onTimeout: R): Promise<R> {
    const id = this.#next++;
    return new Promise<R>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(onTimeout);
      }, RPC_TIMEOUT_MS);
      timer.unref();
      this.#pending.set(id, { resolve: resolve as (r: never) => void, timer });
      this.#port.postMessage({ ...msg, id, shard: this.#shard });
    });
  }
}
