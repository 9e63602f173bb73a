// The messages main thread and shards exchange over the worker port. Kept
// small and flat: they are structured-cloned on every connection.

/** main → shard: take over this accepted TCP connection. */
export interface AdoptMessage {
  type: 'adopt';
  /** A private duplicate of the accepted socket's fd; the shard owns it now. */
  fd: number;
  peer: { address: string; port: number };
}

export type ToShard = AdoptMessage | { type: 'stop' };

/** shard → main. */
export type FromShard =
  | { type: 'ready'; shard: number }
  | { type: 'released'; shard: number; count: number }
  | { type: 'error'; shard: number; message: string };

export interface ShardConfig {
  shard: number;
  certFile: string;
  keyFile: string;
  /** Milliseconds a TLS handshake may take before the connection is dropped. */
  handshakeTimeoutMs: number;
}
