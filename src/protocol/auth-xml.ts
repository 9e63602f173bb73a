// The aggregate-auth exchange (protocol.md §1) as data: what a client's POST
// body says, and the XML bodies the gateway answers with, shaped as ocserv's
// worker-auth.c shapes them (openconnect's auth.c is the judge of both).
// No I/O. Parsing uses fast-xml-parser; a DOCTYPE is refused outright so no
// entity expansion can be smuggled in.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ErrorCodes, WolfguardError } from '../common/errors';

/** Largest body parsed; an openconnect auth-reply is < 2 KiB. */
export const MAX_AUTH_XML_BYTES = 32 * 1024;
/** Longest user name or password we accept (ocserv: MAX_USERNAME_SIZE 64, passwords up to 256). */
export const MAX_FIELD_CHARS = 256;

export type ClientAuthMessage =
  | { kind: 'init'; version?: string; deviceId?: string; groupAccess?: string; groupSelect?: string }
  | { kind: 'auth-reply'; username?: string; password?: string; groupSelect?: string; opaque?: string }
  | { kind: 'logout' };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

function bad(message: string): WolfguardError {
  return new WolfguardError(ErrorCodes.PROTOCOL, message);
}

/** Text of a parsed node: a string, or an object with '#text'. */
function text(node: unknown): string | undefined {
  if (node === undefined || node === null) return undefined;
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (Array.isArray(node)) return text(node[0]);
  if (typeof node === 'object') {
    const t = (node as Record<string, unknown>)['#text'];
    return t === undefined ? '' : text(t);
  }
  return undefined;
}

function field(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.length > MAX_FIELD_CHARS) throw bad(`${name} is longer than ${MAX_FIELD_CHARS} characters`);
  if (/[\x00-\x08\x0a-\x1f]/.test(v)) throw bad(`${name} holds control characters`);
  return v;
}

/** A client's POST body: XML aggregate auth, or the old form POST. */
export function parseAuthRequestBody(body: string | Buffer, contentType?: string): ClientAuthMessage {
  const s = typeof body === 'string' ? body : body.toString('utf8');
  if (Buffer.byteLength(s) > MAX_AUTH_XML_BYTES) throw bad('auth request body too large');
  const trimmed = s.trimStart();
  if (trimmed.startsWith('<')) return parseXml(trimmed);
  if (contentType !== undefined && !/^application\/x-www-form-urlencoded\b/i.test(contentType) && !/^text\/plain\b/i.test(contentType)) {
    throw bad(`unsupported content type ${JSON.stringify(contentType.slice(0, 64))}`);
  }
  return parseForm(s);
}

function parseForm(s: string): ClientAuthMessage {
  if (!/^[\x20-\x7e]*$/.test(s)) throw bad('form body is not URL-encoded text');
  const p = new URLSearchParams(s);
  const out: ClientAuthMessage = { kind: 'auth-reply' };
  const u = field('username', p.get('username') ?? undefined);
  const pw = field('password', p.get('password') ?? undefined);
  const g = field('group_list', p.get('group_list') ?? undefined);
  if (u !== undefined) out.username = u;
  if (pw !== undefined) out.password = pw;
  if (g !== undefined) out.groupSelect = g;
  return out;
}

function parseXml(s: string): ClientAuthMessage {
  if (/<!DOCTYPE|<!ENTITY/i.test(s)) throw bad('DOCTYPE/ENTITY declarations are not accepted');
  if (XMLValidator.validate(s) !== true) throw bad('auth request is not well-formed XML');
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(s) as Record<string, unknown>;
  } catch {
    throw bad('auth request is not well-formed XML');
  }
  const root = doc['config-auth'];
  if (root === undefined || typeof root !== 'object' || Array.isArray(root)) throw bad('no <config-auth> element');
  const r = root as Record<string, unknown>;
  const type = text(r['@type']);
  if (type === 'init') {
    const out: ClientAuthMessage = { kind: 'init' };
    const version = field('version', text(r['version']));
    const deviceId = field('device-id', text(r['device-id']));
    const groupAccess = field('group-access', text(r['group-access']));
    const groupSelect = field('group-select', text(r['group-select']));
    if (version !== undefined) out.version = version;
    if (deviceId !== undefined) out.deviceId = deviceId;
    if (groupAccess !== undefined) out.groupAccess = groupAccess;
    if (groupSelect !== undefined) out.groupSelect = groupSelect;
    return out;
  }
  if (type === 'auth-reply') {
    const out: ClientAuthMessage = { kind: 'auth-reply' };
    const auth = r['auth'];
    const a = auth !== null && typeof auth === 'object' && !Array.isArray(auth) ? (auth as Record<string, unknown>) : {};
    const username = field('username', text(a['username']));
    const password = field('password', text(a['password']));
    const groupSelect = field('group-select', text(r['group-select']));
    const opaque = r['opaque'] !== undefined ? 'present' : undefined;
    if (username !== undefined) out.username = username;
    if (password !== undefined) out.password = password;
    if (groupSelect !== undefined) out.groupSelect = groupSelect;
    if (opaque !== undefined) out.opaque = opaque;
    return out;
  }
  if (type === 'logout') return { kind: 'logout' };
  throw bad(`unknown config-auth type ${JSON.stringify((type ?? '').slice(0, 32))}`);
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export interface AuthField {
  type: 'text' | 'password';
  name: string;
  label: string;
}

export interface AuthRequestOptions {
  message: string;
  fields: AuthField[];
  /** Offered as <select name="group_list">. */
  groups?: string[];
  selectedGroup?: string;
  /** Shown as an error line above the form (a failed attempt). */
  error?: string;
  banner?: string;
  action?: string;
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const VERSION_MSG = '<version who="sg">0.1(1)</version>\n';

/** The auth-request body: ocserv's OC_LOGIN_START .. OC_LOGIN_END. */
export function buildAuthRequest(o: AuthRequestOptions): string {
  let s = `${XML_HEAD}<config-auth client="vpn" type="auth-request">\n${VERSION_MSG}<auth id="main">\n`;
  if (o.banner !== undefined) s += `<banner>${escapeXml(o.banner)}</banner>`;
  s += `<message>${escapeXml(o.message)}</message>\n`;
  if (o.error !== undefined) s += `<error id="main" param1="${escapeXml(o.error)}" param2="">Login failed: %s</error>\n`;
  s += `<form method="post" action="${escapeXml(o.action ?? '/auth')}">\n`;
  for (const f of o.fields) s += `<input type="${f.type}" name="${escapeXml(f.name)}" label="${escapeXml(f.label)}" />\n`;
  if (o.groups && o.groups.length > 0) {
    s += '<select name="group_list" label="Group:">\n';
    for (const g of o.groups) s += `<option${g === o.selectedGroup ? ' selected="true"' : ''}>${escapeXml(g)}</option>\n`;
    s += '</select>\n';
  }
  s += '</form></auth>\n</config-auth>';
  return s;
}

/** The body of a successful login (type="complete"). */
export function buildAuthComplete(o: { banner?: string; message?: string } = {}): string {
  let s = `${XML_HEAD}<config-auth client="vpn" type="complete">\n${VERSION_MSG}<auth id="success">\n<title>SSL VPN Service</title>`;
  if (o.message !== undefined) s += `<message>${escapeXml(o.message)}</message>`;
  if (o.banner !== undefined) s += `<banner>${escapeXml(o.banner)}</banner>`;
  s += '</auth></config-auth>\n';
  return s;
}
