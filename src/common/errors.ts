// One place for every error the gateway raises on purpose. Each has a stable
// `code` (what callers and tests match on) and a human message (what operators
// read). Codes never change meaning once published; add new ones instead.

export const ErrorCodes = {
  // configuration and files
  CONFIG_INVALID: 'WG_CONFIG_INVALID',
  CONFIG_UNKNOWN_KEY: 'WG_CONFIG_UNKNOWN_KEY',
  FILE_NOT_FOUND: 'WG_FILE_NOT_FOUND',
  FILE_UNREADABLE: 'WG_FILE_UNREADABLE',
  FILE_UNWRITABLE: 'WG_FILE_UNWRITABLE',
  PASSWD_INVALID: 'WG_PASSWD_INVALID',
  // native addon / wolfSSL
  ADDON_LOAD: 'WG_ADDON_LOAD',
  TLS_CONTEXT: 'WG_TLS_CONTEXT',
  TLS_KEY_MISMATCH: 'WG_TLS_KEY_MISMATCH',
  TLS_BAD_CERT: 'WG_TLS_BAD_CERT',
  TLS_BAD_KEY: 'WG_TLS_BAD_KEY',
  TLS_BAD_CIPHER: 'WG_TLS_BAD_CIPHER',
  TLS_BAD_VERSION: 'WG_TLS_BAD_VERSION',
  TLS_HANDSHAKE: 'WG_TLS_HANDSHAKE',
  TLS_IO: 'WG_TLS_IO',
  TLS_STATE: 'WG_TLS_STATE',
  TLS_EXPORTER: 'WG_TLS_EXPORTER',
  SOCKET: 'WG_SOCKET',
  CRYPTO: 'WG_CRYPTO',
  // protocol
  PROTOCOL: 'WG_PROTOCOL',
  FRAME_TOO_LARGE: 'WG_FRAME_TOO_LARGE',
  BAD_MAGIC: 'WG_BAD_MAGIC',
  // admission / auth
  ADMISSION_DENIED: 'WG_ADMISSION_DENIED',
  ADMISSION_BAN_LIST_FULL: 'WG_ADMISSION_BAN_LIST_FULL',
  AUTH_FAILED: 'WG_AUTH_FAILED',
  // shared cluster state (Redis)
  STATE_UNAVAILABLE: 'WG_STATE_UNAVAILABLE',
  // generic argument validation at API boundaries
  INVALID_ARGUMENT: 'WG_INVALID_ARGUMENT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface WolfguardErrorDetails {
  /** wolfSSL's numeric error (negative), when the error came from wolfSSL. */
  wolfsslCode?: number;
  /** Any other structured context worth logging (file, line, field...). */
  [key: string]: unknown;
}

export class WolfguardError extends Error {
  readonly code: ErrorCode;
  readonly details: WolfguardErrorDetails;

  constructor(code: ErrorCode, message: string, details: WolfguardErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WolfguardError';
    this.code = code;
    this.details = details;
  }
}

export function invalidArgument(message: string, details: WolfguardErrorDetails = {}): WolfguardError {
  return new WolfguardError(ErrorCodes.INVALID_ARGUMENT, message, details);
}

export function isWolfguardError(e: unknown, code?: ErrorCode): e is WolfguardError {
  return e instanceof WolfguardError && (code === undefined || e.code === code);
}
