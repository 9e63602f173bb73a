// ocserv's ocpasswd file (user:group:hash per line), read again whenever its
// modification time changes. Verification runs crypt(3) on the libuv
// threadpool; an unknown user costs a hash against a dummy so timing does
// not tell who exists.
import * as fs from 'node:fs';
import { ErrorCodes, WolfguardError } from '../../common/errors';
import { verifyPassword } from '../../../native/lib';

export interface PasswdEntry {
  user: string;
  groups: string[];
  hash: string;
  locked: boolean;
}

/** A SHA-512 crypt hash of a random string: same cost as a real check. */
const DUMMY_HASH = '$6$wolfguarddummy$0FQ0W2dZlWb9x3Mx2Xk1rLwV1o8hUe4fYw4dJ0zvJxkB7oH0Wq8qz6b2Zl1xjYpGQ2g5c8K8F7y3o4mP2i1Lq.';

export function parsePasswd(text: string, source: string): Map<string, PasswdEntry> {
  const out = new Map<string, PasswdEntry>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    const parts = line.split(':');
    if (parts.length < 3) throw new WolfguardError(ErrorCodes.CONFIG_INVALID, `${source}:${i + 1}: expected user:group:hash`, { line: i + 1 });
    const user = parts[0]!;
    const group = parts[1]!;
    let hash = parts.slice(2).join(':');
    const locked = hash.startsWith('!');
    if (locked) hash = hash.slice(1);
    out.set(user, { user, groups: group === '' || group === '*' ? [] : group.split(','), hash, locked });
  });
  return out;
}

export class PasswordFile {
  #entries = new Map<string, PasswdEntry>();
  #mtimeMs = -1;

  constructor(readonly path: string) {
    this.#load();
  }

  #load(): void {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.path);
    } catch {
      throw new WolfguardError(ErrorCodes.FILE_NOT_FOUND, `password file ${this.path} not found`);
    }
    if (st.mtimeMs === this.#mtimeMs) return;
    this.#entries = parsePasswd(fs.readFileSync(this.path, 'utf8'), this.path);
    this.#mtimeMs = st.mtimeMs;
  }

  lookup(user: string): PasswdEntry | undefined {
    try {
      this.#load();
    } catch {
      // A file being rewritten or briefly broken: keep the users we had.
    }
    return this.#entries.get(user);
  }
}

export async function verifyUser(file: PasswordFile, user: string, password: string): Promise<{ ok: true; groups: string[] } | { ok: false }> {
  const e = file.lookup(user);
  const ok = await verifyPassword(password, e && !e.locked ? e.hash : DUMMY_HASH);
  return ok && e && !e.locked ? { ok: true, groups: e.groups } : { ok: false };
}
