// "[host:]port" for the listeners an operator turns on (metrics): pure, so
// the config loader and the environment override give the same errors.
import { ErrorCodes, WolfguardError } from '../common/errors';

/** Where a listener without a host binds: never every interface by accident. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';

/** "127.0.0.1:9101" / "[::1]:9101" / "9101" (loopback). */
export function parseListen(text: string, what = 'listen address'): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))?:?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `${what} must be [host:]port, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? m[2] ?? DEFAULT_LISTEN_HOST, port };
}
