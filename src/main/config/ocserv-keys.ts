// Which keys the configuration may hold: the ones wolfguard acts on, and the
// rest of ocserv's vocabulary, which is accepted with a warning so an ocserv
// configuration file loads unchanged. The ocserv list is every key compared in
// cfg_ini_handler() of ocserv's src/config.c, in its 2021 (1.1.x) and current
// (1.3.x) versions; options wolfguard implements are taken out of it.

/** Keys wolfguard reads (ocserv names, plus `ciphers`, ours). */
export const IMPLEMENTED_KEYS: ReadonlySet<string> = new Set([
  'tcp-port',
  'udp-port',
  'dtls-psk',
  'dtls-legacy',
  'match-tls-dtls-ciphers',
  'no-udp',
  'listen-host',
  'server-cert',
  'server-key',
  'ca-cert',
  'auth',
  'ipv4-network',
  'ipv4-netmask',
  'ipv6-network',
  'ipv6-prefix',
  'ipv6-subnet-prefix',
  'route',
  'no-route',
  'dns',
  'ipv4-dns',
  'ipv6-dns',
  'default-domain',
  'banner',
  'dpd',
  'mobile-dpd',
  'keepalive',
  'idle-timeout',
  'mobile-idle-timeout',
  'session-timeout',
  'mtu',
  'cookie-timeout',
  'max-clients',
  'max-same-clients',
  'device',
  'rekey-time',
  'rekey-method',
  'auth-timeout',
  'occtl-socket-file',
  'use-occtl',
  'ciphers',
  'admission-rules',
  'geofilter-file',
  'geoip-db',
  'metrics-listen',
  'occtl-socket-group',
  'max-ban-score',
  'ban-reset-time',
  'min-reauth-time',
  'ban-points-wrong-password',
  'ban-points-connection',
  'ban-points-kkdcp',
  // Authentication suite (issue 6): groups and per-user/group configuration.
  'select-group',
  'default-select-group',
  'config-per-user',
  'config-per-group',
  'default-user-config',
  'default-group-config',
  'append-routes',
  // Hardening (issue 10): privilege drop (ocserv's keys), FIPS-approved mode and resource limits (ours).
  'run-as-user',
  'run-as-group',
  'fips',
  'handshake-timeout',
  'max-header-size',
  'max-pending-handshakes',
  'tunnel-queue-bytes',
  // Certificate login and cookies (issue 6).
  'enable-auth',
  'crl',
  'cert-user-oid',
  'cert-group-oid',
  'persistent-cookies',
  // Several gateways sharing state (issue 9), ours.
  'state',
  'node-id',
]);

/** ocserv keys wolfguard does not act on: read, warned about, ignored. */
export const IGNORED_OCSERV_KEYS: ReadonlySet<string> = new Set([
  'acct',
  'always-require-cert',
  'auto-select-group',
  'ban-time',
  'camouflage',
  'camouflage_realm',
  'camouflage_secret',
  'cgroup',
  'chroot-dir',
  'cisco-client-compat',
  'cisco-svc-client-compat',
  'client-bypass-protocol',
  'compression',
  'compression-algo-priority',
  'connect-script',
  'custom-header',
  'debug-no-secmod-stats',
  'deny-roaming',
  'dh-params',
  'disconnect-script',
  'expose-iroutes',
  'host-update-script',
  'included-http-headers',
  'iroute',
  'ipv4-nbns',
  'ipv6-nbns',
  'isolate-workers',
  'key-pin',
  'kkdcp',
  'limit-worker-memory',
  'listen-clear-file',
  'listen-host-is-dyndns',
  'listen-netns',
  'listen-proxy-proto',
  'log-level',
  'nbns',
  'net-priority',
  'no-compress-limit',
  'ocsp-response',
  'output-buffer',
  'pid-file',
  'pin-file',
  'ping-leases',
  'pre-login-banner',
  'predictable-ips',
  'proxy-url',
  'rate-limit-ms',
  'restrict-user-to-ports',
  'restrict-user-to-routes',
  'route-add-cmd',
  'route-del-cmd',
  'rx-data-per-sec',
  'sec-mod-db-cleanup-time',
  'sec-mod-scale',
  'select-group-by-url',
  'server-drain-ms',
  'server-stats-reset-time',
  'session-control',
  'socket-file',
  'split-dns',
  'srk-pin',
  'srk-pin-file',
  'stats-report-time',
  'switch-to-tcp-timeout',
  'syslog-facility',
  'tls-priorities',
  'try-mtu-discovery',
  'tunnel-all-dns',
  'tx-data-per-sec',
  'udp-listen-host',
  'use-dbus',
  'use-seccomp',
  'use-utmp',
  'user-profile',
]);

const ALL_KEYS: readonly string[] = [...IMPLEMENTED_KEYS, ...IGNORED_OCSERV_KEYS];

/** Longest key we bother comparing: longer input is not a typo of anything we know. */
const MAX_COMPARED_LENGTH = 64;

/** Edit distance (insert, delete, substitute, swap of neighbours), stopping early above `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2] + 1);
      cur.push(d);
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > limit) return limit + 1;
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The known key an unknown one most likely meant, or undefined. Case and
 * '_' for '-' are forgiven outright; otherwise up to one edit for short keys
 * and two for keys of eight characters or more.
 */
export function suggestKey(unknown: string): string | undefined {
  if (unknown.length === 0 || unknown.length > MAX_COMPARED_LENGTH) return undefined;
  const folded = unknown.toLowerCase().replace(/_/g, '-');
  const exact = ALL_KEYS.find((k) => k.toLowerCase().replace(/_/g, '-') === folded);
  if (exact) return exact;
  const limit = folded.length >= 8 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of ALL_KEYS) {
    const d = editDistance(folded, k, limit);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}
