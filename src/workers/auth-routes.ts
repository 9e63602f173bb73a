// The HTTP side of a shard before the tunnel: the XML aggregate-auth exchange
// (init → auth-request → auth-reply → complete) and the old form POST, as
// ocserv serves them. Passwords and second factors are checked by the main
// thread (which owns users, sessions and bans); this file only speaks HTTP.
// A login of several rounds (password, then OTP) is tied together by the
// webvpncontext cookie the main thread chooses for each further round.
import type * as http from 'node:http';
import { isWolfguardError } from '../common/errors';
import { AUTH_XML_CONTENT_TYPE, LoginMessages, buildAuthComplete, buildAuthRequest, parseAuthRequestBody, type AuthGroup, type AuthRequestOptions } from '../protocol/auth-xml';
import { clearWebvpnContextCookie, clearWebvpncCookie, parseCookieHeader, webvpnContextSetCookie, webvpnSetCookie } from '../protocol/cookies';
import type { LoginNextRound, LoginRequest } from './messages';
import { randomBytes } from '../../native/lib';
import type { MainRpc } from './rpc';
import { certificateIdentity, type CertIdentity } from '../main/auth/cert-fields';
import type { CertMode } from '../main/auth/cert-backend';

/** Largest request body we read: an auth-reply is well under 4 KiB; 64 KiB leaves room for odd clients. */
export const MAX_AUTH_BODY_BYTES = 64 * 1024;
/** Bytes of the opaque value tying the steps of one login together. */
const CONTEXT_COOKIE_BYTES = 16;
/** How long a login may sit between its steps (ocserv: the cookie timeout). */
const CONTEXT_MAX_AGE_SECONDS = 300;

export interface AuthRouteOptions {
  rpc: MainRpc;
  /** Shown above the login form. */
  loginMessage: string;
  banner?: string;
  /** select-group: offered as the form's group_list. */
  groups?: AuthGroup[];
  /** default-select-group: offered before the others (ocserv's order: the client's choice, this, the list). */
  defaultGroup?: string;
  /**
   * Certificate login (auth = "certificate", or enable-auth = "certificate"):
   * the mode, and the client certificate wolfSSL verified on the request's
   * connection (undefined: none presented).
   */
  certificate?: { mode: CertMode; identity: (req: http.IncomingMessage) => CertIdentity | undefined };
}

/** The cookie that names an earlier round of the same login. */
const CONTEXT_COOKIE = 'webvpncontext';

const XML_HEADERS = {
  'Content-Type': AUTH_XML_CONTENT_TYPE,
  'X-Transcend-Version': '1',
};

export function createAuthRoutes(opts: AuthRouteOptions): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    handle(opts, req, res).catch(() => fail(res, 500));
  };
}

async function handle(opts: AuthRouteOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.method !== 'POST' && req.method !== 'GET') return fail(res, 405);
  const body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
  if (body === undefined) return fail(res, 413);
  const cert = opts.certificate?.identity(req);
  // The certificate is the whole login (no form): certificate-only, or
  // "either" with a certificate presented. The main thread decides.
  const certAlone = opts.certificate !== undefined && (opts.certificate.mode === 'certificate' || (opts.certificate.mode === 'certificate|password' && cert !== undefined));
  if (certAlone && (req.method === 'GET' || body.length === 0)) return login(opts, req, res, { username: '', password: '' }, cert);
  if (req.method === 'GET' || body.length === 0) return sendLoginForm(opts, res);
  let msg;
  try {
    msg = parseAuthRequestBody(body, req.headers['content-type']);
  } catch (e) {
    if (isWolfguardError(e)) return fail(res, 400);
    throw e;
  }
  if (msg.kind === 'logout') return sendXml(res, 200, buildAuthComplete({ message: 'Logged out.' }));
  if (certAlone) {
    const first: LoginFields = { username: '', password: '' };
    if (msg.groupSelect !== undefined && msg.groupSelect !== '') first.group = msg.groupSelect;
    return login(opts, req, res, first, cert);
  }
  if (msg.kind === 'init') return sendLoginForm(opts, res, undefined, msg.groupSelect);
  const username = msg.username ?? '';
  const password = msg.password ?? '';
  const context = parseCookieHeader(req.headers.cookie).get(CONTEXT_COOKIE);
  const laterRound = msg.secondaryPassword !== undefined && context !== undefined && context !== '';
  if (!laterRound && (username === '' || password === '')) return sendLoginForm(opts, res, username === '' ? undefined : LoginMessages.PASSWORD, msg.groupSelect);
  const fields: LoginFields = { username, password };
  if (context !== undefined && context !== '') fields.context = context;
  if (msg.secondaryPassword !== undefined) fields.secondaryPassword = msg.secondaryPassword;
  if (msg.groupSelect !== undefined && msg.groupSelect !== '') fields.group = msg.groupSelect;
  return login(opts, req, res, fields, cert);
}

/** How long a client refused with 503 (cluster state unavailable) is asked to wait. */
const RETRY_AFTER_SECONDS = 5;

type LoginFields = Omit<LoginRequest, 'id' | 'type' | 'shard' | 'peer' | 'cert'>;

/** Asks the main thread, then answers: the next round, 401, or the session cookie. */
async function login(opts: AuthRouteOptions, req: http.IncomingMessage, res: http.ServerResponse, fields: LoginFields, cert: CertIdentity | undefined): Promise<void> {
  const request: Omit<LoginRequest, 'id' | 'type' | 'shard'> = { ...fields, peer: req.socket.remoteAddress ?? '' };
  // With certificate login configured, every round carries the certificate (or its absence).
  if (cert !== undefined && opts.certificate !== undefined) request.cert = cert;
  const r = await opts.rpc.login(request);
  if (!r.ok && r.next) return sendNextRound(res, r.next);
  if (!r.ok && r.status === 503) {
    // Not the user's fault (cluster state unavailable): the reason goes in the status line and a header.
    res.shouldKeepAlive = false;
    res.writeHead(503, r.reason, { 'Content-Length': '0', Connection: 'close', 'Retry-After': String(RETRY_AFTER_SECONDS), 'X-Reason': r.reason, 'Set-Cookie': clearWebvpnContextCookie() });
    res.end();
    return;
  }
  if (!r.ok) {
    // ocserv's answer to a failed login: 401, empty body, and the connection closes.
    res.shouldKeepAlive = false;
    res.writeHead(401, { 'Content-Length': '0', Connection: 'close', 'Set-Cookie': clearWebvpnContextCookie() });
    res.end();
    return;
  }
  res.setHeader('Set-Cookie', [clearWebvpnContextCookie(), webvpnSetCookie(r.cookie), clearWebvpncCookie()]);
  const opt: { banner?: string } = {};
  if (opts.banner !== undefined) opt.banner = opts.banner;
  sendXml(res, 200, buildAuthComplete(opt));
}

function sendLoginForm(opts: AuthRouteOptions, res: http.ServerResponse, message?: string, selectedGroup?: string): void {
  res.setHeader('Set-Cookie', webvpnContextSetCookie(randomBytes(CONTEXT_COOKIE_BYTES).toString('base64url'), CONTEXT_MAX_AGE_SECONDS));
  const form: AuthRequestOptions = {
    message: message ?? opts.loginMessage,
    fields: [
      { type: 'text', name: 'username', label: 'Username:' },
      { type: 'password', name: 'password', label: 'Password:' },
    ],
  };
  if (opts.groups && opts.groups.length > 0) {
    form.groups = opts.defaultGroup === undefined ? opts.groups : [{ value: opts.defaultGroup, label: opts.defaultGroup }, ...opts.groups.filter((g) => g.value !== opts.defaultGroup)];
    if (selectedGroup !== undefined) form.selectedGroup = selectedGroup;
  }
  sendXml(res, 200, buildAuthRequest(form));
}

/** A further round (second factor): the main thread's prompt, under the context it chose. */
function sendNextRound(res: http.ServerResponse, next: LoginNextRound): void {
  res.setHeader('Set-Cookie', webvpnContextSetCookie(next.context, CONTEXT_MAX_AGE_SECONDS));
  sendXml(res, 200, buildAuthRequest({ message: next.message, fields: next.fields }));
}

function sendXml(res: http.ServerResponse, status: number, xml: string): void {
  const body = Buffer.from(xml);
  res.writeHead(status, { ...XML_HEADERS, 'Content-Length': String(body.length) });
  res.end(body);
}

function fail(res: http.ServerResponse, status: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.shouldKeepAlive = false;
  res.writeHead(status, { 'Content-Length': '0', Connection: 'close' });
  res.end();
}

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > MAX_AUTH_BODY_BYTES) {
        done = true;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
      done = true;
    });
    req.on('error', () => {
      if (!done) resolve(undefined);
      done = true;
    });
  });
}

/** The verified client certificate of a connection, parsed once per connection. */
const identities = new WeakMap<object, CertIdentity | null>();

/**
 * The leaf of the chain the client presented. On a context with verifyPeer
 * set, wolfSSL fails the handshake of a certificate that does not verify
 * (CA, dates, CRL), so a chain on an open connection is a verified one.
 */
export function certificateOf(sock: object & { peerCertificates(): Array<{ raw: Buffer }> }): CertIdentity | undefined {
  const known = identities.get(sock);
  if (known !== undefined) return known ?? undefined;
  let id: CertIdentity | null = null;
  try {
    const leaf = sock.peerCertificates()[0];
    if (leaf) id = certificateIdentity(leaf.raw);
  } catch {
    id = null;
  }
  identities.set(sock, id);
  return id ?? undefined;
}
