// The value of an `auth` line, as ocserv reads it (figure_auth_funcs in
// src/config.c, plain_get_brackets_string / expand_brackets_string in
// src/subconfig.c): a method name, then optionally `[name=value,...]`.
//   plain[passwd=/etc/ocserv/ocpasswd]      plain[passwd=/p,otp=/o]
//   plain[/etc/ocserv/ocpasswd]             (legacy: a path starting with / or .)
//   certificate
// Method and option names are case-insensitive, as in ocserv. File paths are
// returned as written; the loader resolves them.
import type { AuthMethod } from './types';

/** ocserv methods wolfguard has no implementation of. */
const UNSUPPORTED_METHODS = ['pam', 'radius', 'gssapi', 'oidc'];

export class AuthSpecError extends Error {}

function parseOptions(body: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of body.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq < 0) throw new AuthSpecError(`option "${item}" is not name=value`);
    const name = item.slice(0, eq).trim().toLowerCase();
    const value = item.slice(eq + 1).trim();
    if (name === '') throw new AuthSpecError(`option "${item}" has no name`);
    if (value === '') throw new AuthSpecError(`option "${name}" has no value`);
    if (out.has(name)) throw new AuthSpecError(`option "${name}" given twice`);
    out.set(name, value);
  }
  return out;
}

export function parseAuthSpec(value: string): AuthMethod {
  const open = value.indexOf('[');
  const method = (open < 0 ? value : value.slice(0, open)).trim().toLowerCase();
  let body: string | undefined;
  if (open >= 0) {
    if (!value.endsWith(']')) throw new AuthSpecError(`"[" without a closing "]" at the end`);
    body = value.slice(open + 1, -1);
  }
  switch (method) {
    case 'plain': {
      if (body === undefined) throw new AuthSpecError('plain needs a password file: plain[passwd=/etc/ocserv/ocpasswd]');
      const trimmed = body.trim();
      if (trimmed.startsWith('/') || trimmed.startsWith('.')) return { kind: 'plain', passwd: trimmed };
      const opts = parseOptions(body);
      const passwd = opts.get('passwd');
      const otp = opts.get('otp');
      for (const name of opts.keys()) {
        if (name !== 'passwd' && name !== 'otp') throw new AuthSpecError(`unknown plain option "${name}" (known: passwd, otp)`);
      }
      // ocserv accepts an OTP-only plain method; wolfguard needs the password file.
      if (passwd === undefined) throw new AuthSpecError('plain needs passwd=FILE');
      return otp === undefined ? { kind: 'plain', passwd } : { kind: 'plain', passwd, otp };
    }
    case 'certificate':
      if (body !== undefined && body.trim() !== '') throw new AuthSpecError('certificate takes no options');
      return { kind: 'certificate' };
    default:
      if (UNSUPPORTED_METHODS.includes(method)) throw new AuthSpecError(`method "${method}" is an ocserv method wolfguard does not implement (use plain or certificate)`);
      throw new AuthSpecError(`unknown method "${method}" (known: plain, certificate)`);
  }
}
