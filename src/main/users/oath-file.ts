// The OTP users file ocserv reads through liboath (auth = "plain[otp=FILE]"):
// one user a line, `TYPE USER PIN SECRET [COUNTER [TIME]]`, white-space
// separated, `#` comments. TYPE is `HOTP/T30` (TOTP, 30 s steps, 6 digits),
// `HOTP/T60/8` and so on; counter-based `HOTP` and `HOTP/E` lines are kept
// but cannot log in (wolfguard does TOTP only). SECRET is hex as liboath
// writes it; a secret that is not even-length hex is read as base32 (what
// authenticator apps show). The PIN is ignored, as ocserv calls liboath with
// no PIN to check (the password file holds the password).
import * as fs from 'node:fs';
import { ErrorCodes, WolfguardError } from '../../common/errors';
import { base32Decode } from '../auth/totp';

export interface OathEntry {
  user: string;
  /** TOTP step, seconds; undefined for counter-based HOTP lines. */
  stepSeconds?: number;
  digits: number;
  key: Buffer;
  /** The type as written, for messages. */
  type: string;
}

export interface OathDocument {
  /** Entries by user; the first line of a user wins, as in liboath. */
  entries: Map<string, OathEntry>;
  /** Lines that could not be read, with why. */
  problems: string[];
}

/** Mode of a written OTP file: it holds secrets. */
export const OATH_FILE_MODE = 0o600;
/** Shortest secret accepted: RFC 4226 §4 asks for 128 bits. */
export const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 128;
const MAX_LINE_CHARS = 4096;
const DEFAULT_DIGITS = 6;

const TYPE_RE = /^HOTP(?:\/(E|T(\d{1,5})))?(?:\/(\d))?$/i;

function bad(where: string, msg: string): string {
  return `${where}: ${msg}`;
}

export function parseOathKey(secret: string): Buffer {
  const key = /^(?:[0-9a-fA-F]{2})+$/.test(secret) ? Buffer.from(secret, 'hex') : base32Decode(secret);
  if (key.length > MAX_KEY_BYTES) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `secret longer than ${MAX_KEY_BYTES} bytes`);
  return key;
}

/** Reads the file's text; bad lines are reported, never thrown, so one typo does not lock everyone out. */
export function parseOathFile(text: string, source = '<otp file>'): OathDocument {
  const entries = new Map<string, OathEntry>();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${source}:${i + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.length > MAX_LINE_CHARS) return void problems.push(bad(where, 'line too long'));
    const f = line.split(/\s+/);
    if (f.length < 4) return void problems.push(bad(where, 'expected TYPE USER PIN SECRET'));
    const [type, user, , secret] = f as [string, string, string, string];
    const m = TYPE_RE.exec(type);
    if (!m) return void problems.push(bad(where, `unknown type "${type.slice(0, 32)}" (HOTP/T30, HOTP/T30/8, ...)`));
    const digits = m[3] === undefined ? DEFAULT_DIGITS : Number(m[3]);
    if (digits < 6 || digits > 8) return void problems.push(bad(where, `${digits} digits (6 to 8)`));
    let key: Buffer;
    try {
      key = parseOathKey(secret);
    } catch (e) {
      return void problems.push(bad(where, `secret of ${user}: ${(e as Error).message}`));
    }
    if (key.length === 0) return void problems.push(bad(where, `empty secret for ${user}`));
    if (entries.has(user)) return;
    const e: OathEntry = { user, digits, key, type };
    if (m[2] !== undefined) {
      const step = Number(m[2]);
      if (step === 0) return void problems.push(bad(where, 'a time step of 0'));
      e.stepSeconds = step;
    }
    entries.set(user, e);
  });
  return { entries, problems };
}

/** The line enrolment writes: liboath's own TOTP spelling, secret in hex. */
export function oathLine(user: string, key: Uint8Array, digits = DEFAULT_DIGITS, stepSeconds = 30): string {
  if (/\s/.test(user) || user === '') throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'user names in the OTP file cannot hold white space');
  const type = digits === DEFAULT_DIGITS ? `HOTP/T${stepSeconds}` : `HOTP/T${stepSeconds}/${digits}`;
  return `${type}\t${user}\t-\t${Buffer.from(key).toString('hex')}`;
}

/** Replaces (or adds) the user's line in `text`, keeping every other line as it was. */
export function setOathUser(text: string, user: string, line: string): string {
  const out: string[] = [];
  let replaced = false;
  for (const raw of text.split(/\r?\n/)) {
    const f = raw.trim().split(/\s+/);
    if (!raw.trim().startsWith('#') && f.length >= 2 && f[1] === user) {
      if (!replaced) out.push(line);
      replaced = true;
      continue;
    }
    out.push(raw);
  }
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  if (!replaced) out.push(line);
  return `${out.join('\n')}\n`;
}

/** The file on disk, re-read when it changes (an operator enrolling a user while the gateway runs). */
export class OathFile {
  readonly path: string;
  #doc: OathDocument = { entries: new Map(), problems: [] };
  #stamp = '';

  constructor(file: string) {
    this.path = file;
  }

  lookup(user: string): OathEntry | undefined {
    this.refresh();
    return this.#doc.entries.get(user);
  }

  get problems(): readonly string[] {
    return this.#doc.problems;
  }

  /** Re-reads the file when its identity changed; a missing or unreadable file means no OTP users (so every OTP login fails). */
  refresh(): void {
    let stamp: string;
    try {
      const st = fs.statSync(this.path);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      this.#doc = { entries: new Map(), problems: [`${this.path}: cannot be read`] };
      this.#stamp = '';
      return;
    }
    if (stamp === this.#stamp) return;
    try {
      this.#doc = parseOathFile(fs.readFileSync(this.path, 'utf8'), this.path);
      this.#stamp = stamp;
    } catch (e) {
      this.#doc = { entries: new Map(), problems: [`${this.path}: ${(e as Error).message}`] };
      this.#stamp = '';
    }
  }

  /** Writes `user`'s line (atomically, mode 0600). */
  static enrol(file: string, user: string, line: string): void {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new WolfguardError(ErrorCodes.FILE_UNREADABLE, `cannot read OTP file ${file}: ${(e as Error).message}`, { file });
    }
    const tmp = `${file}.tmp`;
    try {
      fs.writeFileSync(tmp, setOathUser(text, user, line), { mode: OATH_FILE_MODE, flag: 'wx' });
      fs.renameSync(tmp, file);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'EEXIST') fs.rmSync(tmp, { force: true });
      throw new WolfguardError(ErrorCodes.FILE_UNWRITABLE, err.code === 'EEXIST' ? `OTP file ${file} is locked: ${tmp} exists` : `cannot write OTP file ${file}: ${err.message}`, { file });
    }
  }
}
