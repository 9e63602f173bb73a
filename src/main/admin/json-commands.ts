// Carries out one line-protocol command (json-command.ts) against the
// running gateway and builds its answer. Never throws: a WolfguardError
// (bad prefix, full ban list, a rules file that does not parse) is the
// operator's mistake and becomes an error line; anything else is ours and
// becomes an "internal error" line rather than a dead socket.
import { formatPrefix, parsePrefix } from '../../common/address';
import { isWolfguardError } from '../../common/errors';
import { errorReply, type JsonCommand, type JsonErrorReply, type RequestId } from './json-command';
import { isoOrNull, rulesView, sessionView } from './views';
import type { AdminContext } from './server';

export type JsonReply = ({ status: 'ok'; command: string; id?: RequestId } & Record<string, unknown>) | JsonErrorReply;

const MS_PER_SECOND = 1000;

export function executeCommand(ctx: AdminContext, cmd: JsonCommand, now = Date.now()): JsonReply {
  const ok = (body: Record<string, unknown>): JsonReply => ({ status: 'ok', command: cmd.command, ...(cmd.id !== undefined ? { id: cmd.id } : {}), ...body });
  try {
    if (cmd.command === 'show_users') return ok({ users: [...ctx.service.registry.sessions()].map(sessionView) });
    const adm = ctx.admission;
    if (adm === undefined) return errorReply('admission control is not running in this gateway', cmd.command, cmd.id);
    switch (cmd.command) {
      case 'block_ip': {
        const b = adm.engine.ban(cmd.ip, now, cmd.seconds === undefined ? Infinity : cmd.seconds * MS_PER_SECOND);
        if (cmd.reason !== undefined && cmd.reason !== '') adm.banNotes.set(b.prefix, cmd.reason);
        else adm.banNotes.delete(b.prefix);
        ctx.cluster?.banned(b.prefix, b.until, cmd.reason);
        return ok({ ip: b.prefix, until: isoOrNull(b.until), ...(cmd.reason !== undefined ? { reason: cmd.reason } : {}) });
      }
      case 'unblock_ip': {
        const prefix = formatPrefix(parsePrefix(cmd.ip));
        const had = adm.engine.unban(cmd.ip);
        adm.banNotes.delete(prefix);
        ctx.cluster?.unbanned(prefix);
        return had ? ok({ ip: prefix }) : errorReply(`${prefix} is not blocked`, cmd.command, cmd.id);
      }
      case 'reload_rules': {
        const rules = adm.reload();
        const geo = adm.geo;
        return ok({
          rules: rules.rules.length,
          geofilter: geo === undefined ? null : { prefixes: geo.rules.prefixes.length, countries: geo.rules.countries.length, warnings: geo.rules.warnings },
        });
      }
      case 'show_rules':
        return ok(rulesView(adm, now));
    }
  } catch (e) {
    if (isWolfguardError(e)) return errorReply(e.message, cmd.command, cmd.id);
    return errorReply(`internal error: ${(e as Error).message}`, cmd.command, cmd.id);
  }
}
