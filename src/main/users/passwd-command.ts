// `wolfguard passwd`: ocserv's ocpasswd, in wolfguard. Same options and file
// format (see ocpasswd(8)): add a user or change its password, -d delete,
// -l lock, -u unlock, -g set the group. Differences, on purpose:
//  - changing a password without -g keeps the user's groups (ocpasswd resets
//    them to "*");
//  - -d/-l/-u on a user that is not in the file is an error (ocpasswd
//    silently does nothing);
//  - new hashes are SHA-512 crypt ($6$; ocpasswd writes SHA-256 crypt, $5$);
//    both verify with crypt(3), in ocserv and in wolfguard.
// The file is rewritten through "<file>.tmp" + rename, which is also
// ocpasswd's lock, so the two tools can be mixed safely.
import { ErrorCodes, WolfguardError } from '../../common/errors';
import { hashPassword } from '../../../native/lib/wolfcrypt';
import { deleteUser, groupFieldProblem, setLocked, setUser, userNameProblem } from './ocpasswd';
import { PasswordFile } from './password-file';

/** ocpasswd's default (DEFAULT_OCPASSWD in ocserv's src/ocpasswd/ocpasswd.c), so scripts written for it keep working. */
export const DEFAULT_PASSWD_FILE = '/etc/ocserv/ocpasswd';

export type PasswdAction = 'set' | 'delete' | 'lock' | 'unlock';

export interface PasswdArgs {
  file: string;
  user: string;
  action: PasswdAction;
  /** -g: group field; only with 'set'. */
  group?: string;
}

/** Where the new password comes from (TTY prompt twice, or a line of stdin). */
export type PasswordSource = () => Promise<string>;

/** A usage mistake (the CLI exits 2 for these). */
export function usageError(message: string): WolfguardError {
  return new WolfguardError(ErrorCodes.INVALID_ARGUMENT, message);
}

/** Turns parsed flags into one action, refusing contradictory ones. */
export function passwdArgsFrom(opts: { passwd?: string; group?: string; delete?: boolean; lock?: boolean; unlock?: boolean }, user: string | undefined): PasswdArgs {
  const actions: PasswdAction[] = [];
  if (opts.delete) actions.push('delete');
  if (opts.lock) actions.push('lock');
  if (opts.unlock) actions.push('unlock');
  if (actions.length > 1) throw usageError('choose only one of -d, -l and -u');
  const action = actions[0] ?? 'set';
  if (user === undefined) throw usageError('missing user name');
  const why = userNameProblem(user);
  if (why) throw usageError(why);
  if (opts.group !== undefined) {
    if (action !== 'set') throw usageError('-g applies only when setting a password');
    const g = groupFieldProblem(opts.group);
    if (g) throw usageError(g);
  }
  if (opts.passwd === '') throw usageError('-c needs a file name');
  const out: PasswdArgs = { file: opts.passwd ?? DEFAULT_PASSWD_FILE, user, action };
  if (opts.group !== undefined) out.group = opts.group;
  return out;
}

/** Applies the command to the file; returns a line for the operator. */
export async function runPasswdCommand(args: PasswdArgs, readPassword: PasswordSource): Promise<string> {
  if (args.action === 'set') {
    const pf = PasswordFile.loadOrEmpty(args.file);
    const password = await readPassword();
    if (password === '') throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'please specify a password (it is empty)');
    const hash = await hashPassword(password, 'sha512');
    const r = setUser(pf.document, args.user, hash, args.group);
    pf.document = r.doc;
    pf.save();
    return r.created ? `added user "${args.user}" to ${args.file}` : `changed the password of "${args.user}" in ${args.file}`;
  }
  const pf = PasswordFile.load(args.file);
  const r = args.action === 'delete' ? deleteUser(pf.document, args.user) : setLocked(pf.document, args.user, args.action === 'lock');
  if (!r.found) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `no user "${args.user}" in ${args.file}`, { file: args.file });
  pf.document = r.doc;
  pf.save();
  const done = { delete: 'deleted', lock: 'locked', unlock: 'unlocked' }[args.action];
  return `${done} user "${args.user}" in ${args.file}`;
}
