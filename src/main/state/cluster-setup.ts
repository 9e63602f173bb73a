// From the configuration to a running ClusterSessions (or none: `state`
// absent or "local" keeps the single-node gateway exactly as it was).
//
// Node id: `node-id` in the configuration, else "<hostname>-<pid>": unique
// per process, so a restarted node is a new node (its previous sessions are
// those of a dead node: claimable by cookie, then expired) and two gateways
// on one host never share an id.
import * as os from 'node:os';
import { envInt } from '../../common/env';
import type { GatewayConfig } from '../config/types';
import type { LoginGuard } from '../admission/gateway-admission';
import { ClusterSessions, DEFAULT_HEARTBEAT_MS, DEFAULT_NODE_TTL_MS, type ClusterOptions } from './cluster-sessions';
import { RedisStore, DEFAULT_COMMAND_TIMEOUT_MS } from './redis-store';
import { describeState, parseStateUrl } from './state-url';
import { defaultNodeId } from './store';

export type ClusterDeps = Omit<ClusterOptions, 'store' | 'limits' | 'cookieTimeoutMs' | 'heartbeatMs' | 'nodeTtlMs'>;

export interface ClusterSetup {
  cluster: ClusterSessions;
  /** Where the state lives, without credentials (for the start-up log line). */
  where: string;
}

export function clusterFromConfig(cfg: GatewayConfig, deps: ClusterDeps): ClusterSetup | undefined {
  if (cfg.state === undefined) return undefined;
  const spec = parseStateUrl(cfg.state);
  if (spec.kind === 'local') return undefined;
  const heartbeatMs = envInt('WOLFGUARD_STATE_HEARTBEAT_MS', DEFAULT_HEARTBEAT_MS);
  const nodeTtlMs = envInt('WOLFGUARD_STATE_NODE_TTL_MS', Math.max(DEFAULT_NODE_TTL_MS, heartbeatMs * 3));
  const store = new RedisStore({
    spec,
    nodeId: cfg.nodeId ?? defaultNodeId(os.hostname(), process.pid),
    nodeTtlMs,
    commandTimeoutMs: envInt('WOLFGUARD_STATE_TIMEOUT_MS', DEFAULT_COMMAND_TIMEOUT_MS),
  });
  const cluster = new ClusterSessions({
    ...deps,
    store,
    limits: { maxClients: cfg.maxClients, maxSameClients: cfg.maxSameClients },
    cookieTimeoutMs: cfg.cookieTimeout * 1000,
    heartbeatMs,
    nodeTtlMs,
  });
  return { cluster, where: describeState(spec) };
}

/** The admission engine's login guard, with failed logins also scored cluster-wide. */
export function clusterLoginGuard(guard: LoginGuard, cluster: ClusterSessions): LoginGuard {
  return {
    before: (user, peer, now) => guard.before(user, peer, now),
    failed: (user, peer, now) => {
      guard.failed(user, peer, now);
      void cluster.failedLogin(peer, now);
    },
    succeeded: (user) => guard.succeeded(user),
  };
}
