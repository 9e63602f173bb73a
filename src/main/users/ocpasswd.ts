// ocserv's password file format ("ocpasswd"), parsed and written back without
// I/O. One user per line:
//
//   username:groupname[,group2...]:crypt-hash
//
// as ocserv's ocpasswd tool writes it (src/ocpasswd/ocpasswd.c: group "*"
// when none is given, a crypt(3) hash, `!` in front of the hash when locked)
// and as its plain auth module reads it (src/auth/plain.c: fields split at
// ':', groups split at ',' with blanks trimmed and one-character names such
// as '*' dropped, "\r\n" accepted, the first line naming the user wins).
// ocserv knows no comments; wolfguard keeps '#' lines and blank lines as they
// are so a file round-trips unchanged.
import { ErrorCodes, WolfguardError } from '../../common/errors';

export interface PasswdEntry {
  user: string;
  /** The group field as written ("*", "", "admins,ops"). */
  groupField: string;
  /** crypt(3) hash without the lock mark; "" = no password (ocserv: OTP only). */
  hash: string;
  locked: boolean;
}

export type PasswdLine = { kind: 'entry'; entry: PasswdEntry } | { kind: 'verbatim'; text: string };

export interface PasswdDocument {
  lines: PasswdLine[];
  /** Whether the text used "\r\n" line ends (kept on write). */
  crlf: boolean;
}

/** What `ocpasswd` writes when no -g is given. */
export const NO_GROUP = '*';
const LOCK_MARK = '!';
const FIELDS = 3;

/** Groups of an entry as ocserv's break_group_list() sees them. */
export function groupsOf(groupField: string): string[] {
  return groupField
    .split(',')
    .map((g) => g.trim())
    // ocserv ignores one-character group names ('*', 'x').
    .filter((g) => g.length > 1);
}

function passwdError(source: string, line: number, why: string): WolfguardError {
  return new WolfguardError(ErrorCodes.PASSWD_INVALID, `${source} line ${line}: ${why}`, { file: source, line });
}

/** Strict: the first malformed line throws PASSWD_INVALID naming it. */
export function parsePasswd(text: string, source = '<passwd>'): PasswdDocument {
  return parseLines(text, source, (e) => {
    throw e;
  });
}

/**
 * Lenient, as ocserv's plain.c reads the file at each login: a malformed line
 * (or a later line for a user already seen) is kept verbatim, so it is written
 * back unchanged, but names nobody; each one is reported in `problems`.
 */
export function parsePasswdLenient(text: string, source = '<passwd>'): { doc: PasswdDocument; problems: WolfguardError[] } {
  const problems: WolfguardError[] = [];
  const doc = parseLines(text, source, (e) => problems.push(e));
  return { doc, problems };
}

function parseLines(text: string, source: string, onError: (e: WolfguardError) => void): PasswdDocument {
  if (typeof text !== 'string') throw new WolfguardError(ErrorCodes.PASSWD_INVALID, `${source}: not text`, { file: source });
  const crlf = text.includes('\r\n');
  const raw = text.split('\n');
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  const lines: PasswdLine[] = [];
  const seen = new Map<string, number>();
  raw.forEach((l, i) => {
    const lineNo = i + 1;
    // Every trailing CR goes: stripping one only made a hash ending in "\r" lose one CR per rewrite (found by fuzzing).
    const text = l.replace(/\r+$/, '');
    if (text.trim() === '' || text.startsWith('#')) {
      lines.push({ kind: 'verbatim', text });
      return;
    }
    const fields = text.split(':');
    const [user, groupField, stored] = fields;
    let why: string | undefined;
    if (fields.length !== FIELDS) why = `expected user:group:hash, found ${fields.length} field(s)`;
    else if (user === '') why = 'empty user name';
    else if (seen.has(user)) why = `user "${user}" already defined on line ${seen.get(user)}`;
    if (why !== undefined) {
      onError(passwdError(source, lineNo, why));
      lines.push({ kind: 'verbatim', text });
      return;
    }
    seen.set(user, lineNo);
    const locked = stored.startsWith(LOCK_MARK);
    lines.push({ kind: 'entry', entry: { user, groupField, hash: locked ? stored.slice(LOCK_MARK.length) : stored, locked } });
  });
  return { lines, crlf };
}

export function serializePasswd(doc: PasswdDocument): string {
  const eol = doc.crlf ? '\r\n' : '\n';
  return doc.lines
    .map((l) => (l.kind === 'verbatim' ? l.text : `${l.entry.user}:${l.entry.groupField}:${l.entry.locked ? LOCK_MARK : ''}${l.entry.hash}`))
    .map((l) => l + eol)
    .join('');
}

export function emptyPasswd(): PasswdDocument {
  return { lines: [], crlf: false };
}

export function findEntry(doc: PasswdDocument, user: string): PasswdEntry | undefined {
  for (const l of doc.lines) if (l.kind === 'entry' && l.entry.user === user) return l.entry;
  return undefined;
}

/** Why a user name cannot go into the file, or undefined when it can. */
export function userNameProblem(user: string): string | undefined {
  if (user === '') return 'the user name is empty';
  if (/[:\r\n\0]/.test(user)) return 'the user name may not contain ":", a line break or NUL';
  if (user.startsWith('#')) return 'the user name may not start with "#"';
  if (user.trim() !== user) return 'the user name may not start or end with blanks';
  return undefined;
}

/** Why a group field cannot go into the file, or undefined when it can. */
export function groupFieldProblem(group: string): string | undefined {
  if (/[:\r\n\0]/.test(group)) return 'the group may not contain ":", a line break or NUL';
  return undefined;
}

function checkNames(user: string, group?: string): void {
  const why = userNameProblem(user) ?? (group === undefined ? undefined : groupFieldProblem(group));
  if (why) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, why, { user });
}

function mapEntry(doc: PasswdDocument, user: string, f: (e: PasswdEntry) => PasswdEntry | null): { doc: PasswdDocument; found: boolean } {
  let found = false;
  const lines: PasswdLine[] = [];
  for (const l of doc.lines) {
    if (l.kind === 'entry' && l.entry.user === user) {
      found = true;
      const next = f(l.entry);
      if (next) lines.push({ kind: 'entry', entry: next });
    } else {
      lines.push(l);
    }
  }
  return { doc: { lines, crlf: doc.crlf }, found };
}

/**
 * Adds the user or sets its hash. A new user without `group` gets "*" (as
 * ocpasswd); an existing user keeps its groups unless `group` is given
 * (ocpasswd would reset them to "*"), and is unlocked, as ocpasswd's rewrite
 * of the line does.
 */
export function setUser(doc: PasswdDocument, user: string, hash: string, group?: string): { doc: PasswdDocument; created: boolean } {
  checkNames(user, group);
  if (/[:\r\n\0]/.test(hash)) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'a password hash may not contain ":" or line breaks');
  const r = mapEntry(doc, user, (e) => ({ user, groupField: group ?? e.groupField, hash, locked: false }));
  if (r.found) return { doc: r.doc, created: false };
  return { doc: { lines: [...doc.lines, { kind: 'entry', entry: { user, groupField: group ?? NO_GROUP, hash, locked: false } }], crlf: doc.crlf }, created: true };
}

export function deleteUser(doc: PasswdDocument, user: string): { doc: PasswdDocument; found: boolean } {
  return mapEntry(doc, user, () => null);
}

export function setLocked(doc: PasswdDocument, user: string, locked: boolean): { doc: PasswdDocument; found: boolean } {
  return mapEntry(doc, user, (e) => ({ ...e, locked }));
}
