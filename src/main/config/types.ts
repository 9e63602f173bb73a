// The gateway's configuration after parsing and validation: what every other
// module reads. The file syntax is ocserv's (`key = value`), so the names below
// follow ocserv's keys; times are seconds as in ocserv, 0 meaning "off" where
// ocserv says so.

export interface Ipv4Pool {
  /** Network address, e.g. "192.168.90.0". */
  network: string;
  /** Prefix length, e.g. 24 (from ipv4-netmask or a /N on ipv4-network). */
  prefix: number;
}

export interface Ipv6Pool {
  network: string;
  prefix: number;
  /** Size of the prefix each client gets (ocserv's ipv6-subnet-prefix), 128 = one address. */
  subnetPrefix: number;
}

export type AuthMethod =
  /** auth = "plain[passwd=/path,otp=/path]" */
  | { kind: 'plain'; passwd: string; otp?: string }
  /** auth = "certificate" */
  | { kind: 'certificate' };

export interface GatewayConfig {
  /** Where it came from: a file path, or "<embedded default>". */
  source: string;
  /** TCP port for TLS (tcp-port). */
  tcpPort: number;
  /** UDP port for DTLS (udp-port); null = DTLS off. */
  udpPort: number | null;
  /** dtls-psk: offer openconnect's PSK-NEGOTIATE (ocserv default true; undefined = true). */
  dtlsPsk?: boolean;
  /** dtls-legacy: offer Cisco's legacy DTLS (ocserv default true; undefined = true). */
  dtlsLegacy?: boolean;
  /** match-tls-dtls-ciphers: legacy DTLS picks the TLS channel's cipher when offered (default false). */
  matchTlsDtlsCiphers?: boolean;
  /** listen-host; undefined = all addresses. */
  listenHost?: string;
  serverCert: string;
  serverKey: string;
  /** ca-cert: CA for client certificates. */
  caCert?: string;
  auth: AuthMethod[];
  /** enable-auth: methods sufficient on their own besides `auth` (ocserv; only "certificate" here). */
  enableAuth?: AuthMethod[];
  /** crl: revoked client certificates (PEM), checked with ca-cert. */
  crl?: string;
  /** cert-user-oid: where a certificate's user name is (dotted OID or "SAN(rfc822name)"); default CN. */
  certUserOid?: string;
  /** cert-group-oid: the DN attribute whose values are the user's groups. */
  certGroupOid?: string;
  /** persistent-cookies: a logout leaves the cookie valid until the cookie timeout (ocserv; default false). */
  persistentCookies?: boolean;
  ipv4Pool: Ipv4Pool | null;
  ipv6Pool: Ipv6Pool | null;
  /** route = ... (split include); "default" entries are dropped (full tunnel). */
  routes: string[];
  /** no-route = ... (split exclude). */
  noRoutes: string[];
  dns: string[];
  defaultDomain?: string;
  banner?: string;
  /** Seconds of silence after which a peer is dead (dpd), also sent to the client. */
  dpd: number;
  mobileDpd: number;
  keepalive: number;
  /** idle-timeout, null = none. */
  idleTimeout: number | null;
  mobileIdleTimeout: number | null;
  /** session-timeout, null = none. */
  sessionTimeout: number | null;
  /** mtu; null = derived from the client's base MTU. */
  mtu: number | null;
  /** Seconds a cookie of a disconnected session stays valid. */
  cookieTimeout: number;
  /** 0 = unlimited. */
  maxClients: number;
  /** 0 = unlimited. */
  maxSameClients: number;
  /** TUN device name (device). */
  device: string;
  /** tls-priorities is GnuTLS syntax; we take a wolfSSL cipher list instead (ciphers key, ours). */
  ciphers?: string;
  rekeyTime: number;
  /** 'ssl' | 'new-tunnel' | 'none' */
  rekeyMethod: 'ssl' | 'new-tunnel' | 'none';
  /** Seconds an unauthenticated HTTP exchange may last (auth-timeout). */
  authTimeout: number;
  /** JSON admission rules (ours: admission-rules); undefined = accept all, with the ban points below. */
  admissionRules?: string;
  /** geofilter.conf: block/allow subnets and countries (ours: geofilter-file); reloaded with the rules. */
  geofilterFile?: string;
  /** MaxMind .mmdb giving each address its country (ours: geoip-db); required when geofilter-file names countries. */
  geoipDb?: string;
  /**
   * ocserv's ban points (max-ban-score, ban-reset-time, min-reauth-time,
   * ban-points-*), seconds and points as ocserv has them; only the keys the
   * file sets. Used when there is no admission-rules file (which has its own).
   */
  banScore?: Partial<Record<'maxBanScore' | 'banResetTime' | 'minReauthTime' | 'pointsWrongPassword' | 'pointsConnection' | 'pointsKkdcp', number>>;
  /** Prometheus listener, [host:]port (ours: metrics-listen; host defaults to loopback); undefined = off. WOLFGUARD_METRICS overrides it. */
  metricsListen?: string;
  /** Group whose members may use the admin socket as well as root (ours: occtl-socket-group); undefined = root only. */
  adminSocketGroup?: string;
  /** Unix socket of the admin interface (ocserv's occtl-socket-file); undefined = none. */
  adminSocket?: string;
  /** select-group: groups offered in the login form (value, and the friendly name in brackets). */
  selectGroups?: Array<{ value: string; label: string }>;
  /** default-select-group: the (virtual) group meaning "the user's default group". */
  defaultSelectGroup?: string;
  /** config-per-user / config-per-group directories, default-user-config / default-group-config files. */
  configPerUser?: string;
  configPerGroup?: string;
  defaultUserConfig?: string;
  defaultGroupConfig?: string;
  /** append-routes: per-user/group routes are followed by the gateway's (otherwise they replace them). */
  appendRoutes?: boolean;
  /** run-as-user / run-as-group: who the process becomes once ports and the TUN are open; undefined = stay. */
  runAsUser?: string;
  runAsGroup?: string;
  /** fips = true: FIPS 140-3 approved algorithms only, checked at start (src/main/fips.ts). */
  fips?: boolean;
  /** Resource limits (ours; src/main/limits.ts has the defaults); unset = default. */
  limits?: Partial<GatewayLimits>;
  /** state: where shared state lives ("local" or a Redis URL, src/main/state/state-url.ts); undefined = local. */
  state?: string;
  /** node-id: this gateway's name in the cluster state; undefined = host name and pid. */
  nodeId?: string;
  /** Keys read but not acted on (known ocserv keys we do not implement), for a warning each. */
  ignoredKeys: string[];
}

/** Per-connection and per-shard bounds a hostile or broken client cannot push past. */
export interface GatewayLimits {
  /** handshake-timeout: seconds a TLS handshake may take. */
  handshakeTimeout: number;
  /** max-header-size: bytes of HTTP request head (request line + headers). */
  maxHeaderBytes: number;
  /** max-pending-handshakes: TLS handshakes in progress per shard; more are closed at once. */
  maxPendingHandshakes: number;
  /** tunnel-queue-bytes: bytes queued towards one slow tunnel client before packets to it are dropped. */
  tunnelQueueBytes: number;
}
