// The typed face of the native addon.
export { addon, addonFile, EventKind, LivenessSlot, LIVENESS_FIELDS } from './addon';
export type { NativeAddon, NativeSessionHandle, PumpStats, ConnectionStats } from './addon';
export { TlsContext, availableCiphers, newTicketKey, GROUP_IDS } from './context';
export type { ContextOptions, KeyExchangeGroup, PemSource, ProtocolVersion, TlsVersion, DtlsVersion } from './context';
export { TlsSocket, DEFAULT_TUNNEL_QUEUE_BYTES } from './tls-socket';
export type { TunnelOptions } from './tls-socket';
export { TunnelPump, allowedCpus, openTun, addressBytes, createWakeFd, routeLease, planeSliceProblem, DEFAULT_PLANE_SLICE_US, MIN_PLANE_SLICE_US, MAX_PLANE_SLICE_US, type TunnelPumpOptions, type PlaneCpuKeep, type TunFraming } from './tun';
export { TunSteering, QueueOrder } from './tun-steering';
export type { TlsSocketOptions } from './tls-socket';
export { DtlsSession } from './dtls-session';
export type { DtlsSessionOptions } from './dtls-session';
export type { SessionInfo, PskLookup } from './connection-common';
export { adoptSocket, closeFd, udpConnect, rcvBufBytes, peerName, sockName, dtlsRcvBufProblem, DEFAULT_DTLS_RCVBUF_BYTES, MIN_DTLS_RCVBUF_BYTES, MAX_DTLS_RCVBUF_BYTES } from './sockets';
export { hmac, sha256, randomBytes, drbgHash, cryptHash, verifyPassword, hashPassword, HashMethods } from './wolfcrypt';
export type { HashName } from './wolfcrypt';
export { allocatorStats } from './stats';
export { legacyClientSession, LEGACY_SESSION_ID_BYTES, LEGACY_MASTER_SECRET_BYTES } from './dtls-legacy';
export type { LegacySessionParams } from './dtls-legacy';
