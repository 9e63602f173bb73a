// Dropping root once the gateway holds what only root may take: the TCP and
// UDP ports, the TUN device and its queues. ocserv's keys run-as-user and
// run-as-group name who the process becomes.
//
// What stays: CAP_NET_ADMIN on the main thread only, because a shard that
// dies is restarted on a fresh TUN queue of the same device (TUNSETIFF on a
// device we do not own needs it); and CAP_DAC_READ_SEARCH too, only when a
// file the gateway reads after start-up (password file at each login,
// certificate and key when a shard restarts, admission rules on reload) is
// not readable by run-as-user, e.g. a root-only ocpasswd as ocserv setups
// have it. The log says which files, so the operator can chgrp them and run
// with CAP_NET_ADMIN alone. Every other thread (shards, libuv's pool,
// V8's helpers) keeps no capability at all: Linux holds capabilities per
// thread, glibc changes the uid of every thread, and only the main thread
// asks to keep its capabilities across that change. no_new_privs is set, so
// nothing the process runs later can gain any back.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { addon } from '../../native/lib';
import { ErrorCodes, WolfguardError } from '../common/errors';

/** linux/capability.h */
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_NET_ADMIN = 12;
/** What the main thread keeps by default. */
export const DEFAULT_KEPT_CAPABILITIES: readonly number[] = [CAP_NET_ADMIN];

export interface Identity {
  uid: number;
  gid: number;
  user: string;
  group: string;
}

interface PrivilegeCalls {
  setKeepCaps(on: boolean): number;
  limitCapabilities(caps: number[]): number;
  capabilities(): { effective: bigint; permitted: bigint } | number;
}

const native = (): PrivilegeCalls => addon() as unknown as PrivilegeCalls;

/** Longest user or group name we look up (useradd allows 32). */
const MAX_NAME_CHARS = 64;
const NUMERIC_ID = /^\d{1,10}$/;
/** Largest valid id: (uid_t)-1 means "unchanged" to the kernel. */
const MAX_ID = 0xfffffffe;

function dbError(what: string): WolfguardError {
  return new WolfguardError(ErrorCodes.CONFIG_INVALID, what);
}

/** Lines of an /etc/passwd or /etc/group style file, split on ':'; comments and blanks skipped. */
function records(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

/**
 * Who `user` and `group` (names or numbers) are, from the text of
 * /etc/passwd and /etc/group. An unset group is the user's primary group.
 * Pure; throws CONFIG_INVALID naming what is unknown.
 */
export function resolveIdentity(user: string, group: string | undefined, passwdText: string, groupText: string): Identity {
  for (const [name, key] of [
    [user, 'run-as-user'],
    [group, 'run-as-group'],
  ] as const) {
    if (name !== undefined && (name.length === 0 || name.length > MAX_NAME_CHARS || /[:\s\0]/.test(name))) {
      throw dbError(`${key} ${JSON.stringify(name.slice(0, MAX_NAME_CHARS))} is not a user or group name`);
    }
  }
  const users = records(passwdText);
  const groups = records(groupText);
  let uid: number;
  let gid: number;
  let userName = user;
  const byName = users.find((r) => r[0] === user);
  if (byName && NUMERIC_ID.test(byName[2] ?? '') && NUMERIC_ID.test(byName[3] ?? '')) {
    uid = Number(byName[2]);
    gid = Number(byName[3]);
  } else if (NUMERIC_ID.test(user) && Number(user) <= MAX_ID) {
    uid = Number(user);
    const byUid = users.find((r) => r[2] === user);
    // A bare uid with no passwd entry: its primary group is the same number (a common container setup).
    gid = byUid && NUMERIC_ID.test(byUid[3] ?? '') ? Number(byUid[3]) : uid;
    if (byUid) userName = byUid[0]!;
  } else {
    throw dbError(`run-as-user: no user ${JSON.stringify(user)} in /etc/passwd`);
  }
  let groupName = groups.find((r) => r[2] === String(gid))?.[0] ?? String(gid);
  if (group !== undefined) {
    const g = groups.find((r) => r[0] === group);
    if (g && NUMERIC_ID.test(g[2] ?? '')) {
      gid = Number(g[2]);
      groupName = group;
    } else if (NUMERIC_ID.test(group) && Number(group) <= MAX_ID) {
      gid = Number(group);
      groupName = groups.find((r) => r[2] === group)?.[0] ?? group;
    } else {
      throw dbError(`run-as-group: no group ${JSON.stringify(group)} in /etc/group`);
    }
  }
  return { uid, gid, user: userName, group: groupName };
}

function check(what: string, r: number): void {
  if (r !== 0) throw new WolfguardError(ErrorCodes.SOCKET, `${what} failed: errno ${-r}`, { errno: -r });
}

export interface DropResult extends Identity {
  /** Capabilities the main thread kept (numbers from linux/capability.h). */
  kept: number[];
  /** Effective capability mask of the main thread afterwards. */
  effective: bigint;
}

/**
 * Becomes `who` for good: supplementary groups cleared, gid, then uid; the
 * main thread keeps `keep`, every other thread nothing. Must run as root.
 */
export function dropPrivileges(who: Identity, keep: readonly number[] = DEFAULT_KEPT_CAPABILITIES): DropResult {
  if (process.getuid?.() !== 0) {
    throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `run-as-user ${who.user}: the gateway is not running as root, so it cannot change user`);
  }
  if (who.uid === 0) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, 'run-as-user names root: nothing would be dropped');
  const { setgroups, setgid, setuid } = process;
  if (!setgroups || !setgid || !setuid) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, 'run-as-user: this platform cannot change user');
  const n = native();
  check('prctl(PR_SET_KEEPCAPS)', n.setKeepCaps(true));
  try {
    setgroups([who.gid]);
    setgid(who.gid);
    setuid(who.uid);
  } finally {
    // Cleared even on failure: keep-caps must not outlive this call.
    n.setKeepCaps(false);
  }
  check('capset', n.limitCapabilities([...keep]));
  const caps = n.capabilities();
  if (typeof caps === 'number') check('capget', caps);
  const effective = typeof caps === 'number' ? 0n : caps.effective;
  return { ...who, kept: [...keep], effective };
}

/**
 * Starts libuv's thread pool now, while root: the pool starts all its
 * threads at the first piece of work, and threads started after the drop by
 * the main thread would inherit the main thread's CAP_NET_ADMIN.
 */
export async function warmThreadPool(): Promise<void> {
  await fs.promises.stat('/');
}

/**
 * For a thread started after the drop (a restarted shard): it inherited the
 * main thread's capabilities, and needs none. No-op in a process that did not
 * drop (still root) or in a thread that holds nothing.
 */
export function shedThreadCapabilities(): void {
  if (process.getuid?.() === 0) return;
  const caps = native().capabilities();
  if (typeof caps === 'number' || caps.permitted === 0n) return;
  check('capset', native().limitCapabilities([]));
}

/** Reads the system's user and group databases and resolves the configured identity. */
export function identityFromSystem(user: string, group: string | undefined): Identity {
  const read = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  return resolveIdentity(user, group, read('/etc/passwd'), read('/etc/group'));
}

const PERM_READ = 4;
const PERM_EXEC = 1;

function allowed(st: { uid: number; gid: number; mode: number }, who: Identity, bit: number): boolean {
  const shift = st.uid === who.uid ? 6 : st.gid === who.gid ? 3 : 0;
  return ((st.mode >> shift) & bit) !== 0;
}

/**
 * Whether `who` (with no supplementary group but its own) could read `file`
 * by its mode bits: every directory on the way searchable, the file readable.
 * ACLs are not looked at (a false "unreadable" only keeps one capability more).
 */
export function readableBy(file: string, who: Identity, stat: (p: string) => { uid: number; gid: number; mode: number } = fs.statSync): boolean {
  try {
    const abs = path.resolve(file);
    const parts = abs.split(path.sep).filter((x) => x !== '');
    let dir: string = path.sep;
    for (const part of parts.slice(0, -1)) {
      if (!allowed(stat(dir), who, PERM_EXEC)) return false;
      dir = path.join(dir, part);
    }
    if (!allowed(stat(dir), who, PERM_EXEC)) return false;
    return allowed(stat(abs), who, PERM_READ);
  } catch {
    return false;
  }
}

/** What the main thread keeps, given the files run-as-user could not read. */
export function capabilitiesFor(unreadable: readonly string[]): number[] {
  return unreadable.length > 0 ? [CAP_NET_ADMIN, CAP_DAC_READ_SEARCH] : [CAP_NET_ADMIN];
}
