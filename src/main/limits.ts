// Resource limits: what one connection, or a crowd of them, may hold before
// the gateway closes it. Defaults are what an enterprise gateway facing the
// internet would set; each can be changed in the configuration file (keys in
// LIMIT_KEYS) or, for a quick test, the environment (WOLFGUARD_<KEY>, e.g.
// WOLFGUARD_MAX_PENDING_HANDSHAKES). Pure: no I/O but reading `env`.
import type { GatewayConfig, GatewayLimits } from './config/types';
import { ErrorCodes, WolfguardError } from '../common/errors';

export const DEFAULT_LIMITS: Readonly<GatewayLimits> = {
  // A handshake is a few round trips; 10 s covers a bad mobile link, and a
  // slowloris peer holds a handshake slot no longer than that.
  handshakeTimeout: 10,
  // openconnect's CONNECT with a cookie and DTLS offers is ~1.5 KiB; AnyConnect
  // adds device headers. 16 KiB is Node's default, stated so it cannot drift.
  maxHeaderBytes: 16 * 1024,
  // Handshakes cost CPU (ECDHE, signatures): beyond this many at once per shard
  // new connections are closed unread, so a flood cannot starve tunnels' CPU.
  maxPendingHandshakes: 512,
  // 1 MiB is ~0.7 s at 12 Mbit/s: a client slower than that loses packets
  // (TCP above it backs off) rather than growing our memory.
  tunnelQueueBytes: 1 << 20,
};

export const LIMIT_RANGES: Readonly<Record<keyof GatewayLimits, { min: number; max: number }>> = {
  handshakeTimeout: { min: 1, max: 300 },
  maxHeaderBytes: { min: 1024, max: 1024 * 1024 },
  maxPendingHandshakes: { min: 1, max: 1_000_000 },
  tunnelQueueBytes: { min: 64 * 1024, max: 256 * 1024 * 1024 },
};

/** Configuration key → field. */
export const LIMIT_KEYS: ReadonlyArray<readonly [string, keyof GatewayLimits]> = [
  ['handshake-timeout', 'handshakeTimeout'],
  ['max-header-size', 'maxHeaderBytes'],
  ['max-pending-handshakes', 'maxPendingHandshakes'],
  ['tunnel-queue-bytes', 'tunnelQueueBytes'],
];

function envName(key: string): string {
  return `WOLFGUARD_${key.toUpperCase().replace(/-/g, '_')}`;
}

/** The limits in force: defaults, then the configuration, then the environment. */
export function effectiveLimits(cfg: Pick<GatewayConfig, 'limits'> | undefined, env: NodeJS.ProcessEnv = process.env): GatewayLimits {
  const out: GatewayLimits = { ...DEFAULT_LIMITS, ...(cfg?.limits ?? {}) };
  for (const [key, field] of LIMIT_KEYS) {
    const raw = env[envName(key)];
    if (raw === undefined || raw === '') continue;
    const { min, max } = LIMIT_RANGES[field];
    const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) {
      throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `${envName(key)}=${JSON.stringify(raw.slice(0, 32))}: must be a whole number in ${min}..${max}`, { key });
    }
    out[field] = n;
  }
  return out;
}
