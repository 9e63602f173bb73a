// Whether the gateway's TUN device writes runs of UDP datagrams as one
// packet the kernel cuts up again (WOLFGUARD_TUN_USO; native/src/tun-coalesce.h).
import type { TunFraming } from '../../native/lib';
import { ErrorCodes, WolfguardError } from '../common/errors';

export const TUN_USO_ENV = 'WOLFGUARD_TUN_USO';

/** What openTun() is asked for: 'auto' (the default: USO when the kernel has it) or 'plain' ("off"); throws CONFIG_INVALID on anything else. */
export function tunFramingWanted(spec: string | undefined): TunFraming | 'auto' {
  const s = spec?.trim() || 'auto';
  if (s === 'auto') return 'auto';
  if (s === 'off') return 'plain';
  throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `${TUN_USO_ENV}: expected auto or off, got ${JSON.stringify(spec)}`);
}
