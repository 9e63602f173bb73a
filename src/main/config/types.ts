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
  /** listen-host; undefined = all addresses. */
  listenHost?: string;
  serverCert: string;
  serverKey: string;
  /** ca-cert: CA for client certificates. */
  caCert?: string;
  auth: AuthMethod[];
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
  /**
   * ocserv's ban points (max-ban-score, ban-reset-time, min-reauth-time,
   * ban-points-*), seconds and points as ocserv has them; only the keys the
   * file sets. Used when there is no admission-rules file (which has its own).
   */
  banScore?: Partial<Record<'maxBanScore' | 'banResetTime' | 'minReauthTime' | 'pointsWrongPassword' | 'pointsConnection' | 'pointsKkdcp', number>>;
  /** Prometheus listener, [host:]port (ours: metrics-listen; host defaults to loopback); undefined = off. WOLFGUARD_METRICS overrides it. */
  metricsListen?: string;
  /** Unix socket of the admin interface (ocserv's occtl-socket-file); undefined = none. */
  adminSocket?: string;
  /** Keys read but not acted on (known ocserv keys we do not implement), for a warning each. */
  ignoredKeys: string[];
}
