// An ocpasswd file on disk: read once, re-read when it changes (an operator
// running `wolfguard passwd` or `ocpasswd` while the gateway runs), written
// atomically. verifyUser() checks a password against it without revealing,
// by its timing, whether the user exists.
import * as fs from 'node:fs';
import { ErrorCodes, WolfguardError, isWolfguardError } from '../../common/errors';
import { verifyPassword } from '../../../native/lib/wolfcrypt';
import { emptyPasswd, findEntry, groupsOf, parsePasswd, parsePasswdLenient, serializePasswd, type PasswdDocument } from './ocpasswd';

export interface PasswdRecord {
  groups: string[];
  /** crypt(3) hash without the lock mark. */
  hash: string;
  locked: boolean;
}

/** File mode of a written password file (ocpasswd runs with umask 066). */
export const PASSWD_FILE_MODE = 0o600;

/**
 * Hashed against when the user is unknown, so the reply takes as long as for
 * a known user; any file entry's hash is preferred (same method and cost), as
 * ocserv's plain.c does. SHA-512 crypt with the default 5000 rounds.
 */
export const FALLBACK_DUMMY_HASH = '$6$wolfguarddummy$';

interface FileStamp {
  mtimeMs: number;
  size: number;
  ino: number;
}

function stampOf(st: fs.Stats): FileStamp {
  return { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

function fsError(file: string, what: string, e: unknown): WolfguardError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return new WolfguardError(ErrorCodes.FILE_NOT_FOUND, `password file ${file} does not exist`, { file });
  return new WolfguardError(ErrorCodes.FILE_UNREADABLE, `cannot ${what} password file ${file}: ${err.message}`, { file }, { cause: e });
}

export class PasswordFile {
  readonly path: string;
  #doc: PasswdDocument = emptyPasswd();
  #stamp: FileStamp | null = null;
  #lastReloadError: WolfguardError | null = null;
  #problems: readonly WolfguardError[] = [];

  /** Reads nothing yet: the first lookup() does (and a missing file then means no users). */
  constructor(file: string) {
    this.path = file;
  }

  /** Reads the file; throws when it is missing or malformed. */
  static load(file: string): PasswordFile {
    const pf = new PasswordFile(file);
    pf.reload();
    return pf;
  }

  /** Like load(), but a missing file is an empty document (for creating it). */
  static loadOrEmpty(file: string): PasswordFile {
    const pf = new PasswordFile(file);
    try {
      pf.reload();
    } catch (e) {
      if (!isWolfguardError(e, ErrorCodes.FILE_NOT_FOUND)) throw e;
    }
    return pf;
  }

  get document(): PasswdDocument {
    return this.#doc;
  }

  set document(doc: PasswdDocument) {
    this.#doc = doc;
  }

  /**
   * What went wrong at the last re-read, if anything: the file missing or
   * unreadable (then no user can log in, as in ocserv), or malformed lines
   * (skipped; the other users still work, as in ocserv). For the caller to log.
   */
  get lastReloadError(): WolfguardError | null {
    return this.#lastReloadError;
  }

  /** Malformed lines found by the last re-read (each names its line). */
  get problems(): readonly WolfguardError[] {
    return this.#problems;
  }

  #read(): { text: string; st: fs.Stats } {
    try {
      const fd = fs.openSync(this.path, 'r');
      try {
        return { st: fs.fstatSync(fd), text: fs.readFileSync(fd, 'utf8') };
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      throw fsError(this.path, 'read', e);
    }
  }

  /** Reads the file now; a missing, unreadable or malformed file throws (for startup and editing). */
  reload(): void {
    const { text, st } = this.#read();
    this.#doc = parsePasswd(text, this.path);
    this.#stamp = stampOf(st);
    this.#problems = [];
    this.#lastReloadError = null;
  }

  /**
   * Re-reads the file when its mtime, size or inode changed, leniently: bad
   * lines are skipped and reported in problems / lastReloadError. A file that
   * is gone or unreadable leaves no users.
   */
  refresh(): void {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.path);
    } catch (e) {
      this.#forget(fsError(this.path, 'stat', e));
      return;
    }
    if (this.#stamp && sameStamp(this.#stamp, stampOf(st))) return;
    let read: { text: string; st: fs.Stats };
    try {
      read = this.#read();
    } catch (e) {
      if (!isWolfguardError(e)) throw e;
      this.#forget(e);
      return;
    }
    const { doc, problems } = parsePasswdLenient(read.text, this.path);
    this.#doc = doc;
    this.#stamp = stampOf(read.st);
    this.#problems = problems;
    this.#lastReloadError = problems[0] ?? null;
  }

  #forget(err: WolfguardError): void {
    this.#doc = emptyPasswd();
    this.#stamp = null;
    this.#problems = [];
    this.#lastReloadError = err;
  }

  lookup(user: string): PasswdRecord | undefined {
    this.refresh();
    const e = findEntry(this.#doc, user);
    if (!e) return undefined;
    return { groups: groupsOf(e.groupField), hash: e.hash, locked: e.locked };
  }

  /** A hash to verify against when the user is unknown (see FALLBACK_DUMMY_HASH). */
  dummyHash(): string {
    for (const l of this.#doc.lines) if (l.kind === 'entry' && l.entry.hash.startsWith('$')) return l.entry.hash;
    return FALLBACK_DUMMY_HASH;
  }

  /**
   * Writes the document: to "<file>.tmp" (created exclusively, mode 0600;
   * ocpasswd treats an existing one as a lock, and so do we), then renamed
   * over the file.
   */
  save(): void {
    const tmp = `${this.path}.tmp`;
    let fd: number;
    try {
      fd = fs.openSync(tmp, 'wx', PASSWD_FILE_MODE);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EEXIST') throw new WolfguardError(ErrorCodes.FILE_UNWRITABLE, `password file ${this.path} is locked: ${tmp} exists (another ocpasswd or wolfguard passwd running? remove it if not)`, { file: this.path });
      throw new WolfguardError(ErrorCodes.FILE_UNWRITABLE, `cannot write ${tmp}: ${err.message}`, { file: this.path }, { cause: e });
    }
    try {
      try {
        fs.writeSync(fd, serializePasswd(this.#doc));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.path);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw new WolfguardError(ErrorCodes.FILE_UNWRITABLE, `cannot write password file ${this.path}: ${(e as Error).message}`, { file: this.path }, { cause: e });
    }
    try {
      this.#stamp = stampOf(fs.statSync(this.path));
    } catch {
      this.#stamp = null;
    }
  }
}

export type VerifyResult = { ok: true; groups: string[] } | { ok: false };

/**
 * Checks user and password against the file. crypt runs for every attempt,
 * against the user's hash (also when locked) or a dummy one, so a refusal
 * takes as long whether or not the user exists. A user with an empty hash is
 * refused: ocserv lets such a user in on the OTP alone, and wolfguard has no OTP.
 */
export async function verifyUser(file: PasswordFile, user: string, password: string): Promise<VerifyResult> {
  const rec = file.lookup(user);
  const usable = rec !== undefined && rec.hash !== '';
  const against = usable ? rec.hash : file.dummyHash();
  const match = await verifyPassword(password, against);
  if (!usable || rec.locked || !match) return { ok: false };
  return { ok: true, groups: rec.groups };
}
