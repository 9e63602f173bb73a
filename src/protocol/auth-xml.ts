// The aggregate-auth exchange (protocol.md §1) as data: what a client's POST
// body says, and the XML bodies the gateway answers with.
//
// Client side checked against openconnect auth.c: xmlpost_new_query (root
// attributes, <version who="vpn">, <device-id>, <capabilities>),
// xmlpost_initial_req (<group-access>, <group-select>, <client-cert-fail/>),
// xmlpost_append_form_opts (echoed <opaque>, <auth> children named after the
// form's inputs, group_list as top-level <group-select>, answer/whichpin/
// new_password renamed <password>), and the old form POST (auth-common.c
// append_opt: name=value&..., URL-encoded). Server side shaped byte for byte
// like ocserv's worker-auth.c (OC_LOGIN_START .. OC_LOGIN_END,
// oc_success_msg_head .. OC_SUCCESS_MSG_FOOT). ocserv has no HTML login form
// for non-XML clients (only the XML above, and a bare <auth> variant for
// openconnect v3), so neither do we.
//
// No I/O. Parsing uses fast-xml-parser with DOCTYPE refused outright (so no
// entity can be declared, let alone expanded), a size cap, and a nesting cap.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ErrorCodes, WolfguardError } from '../common/errors';

/** Largest body parsed; an openconnect auth-reply is well under 2 KiB. */
export const MAX_AUTH_XML_BYTES = 32 * 1024;
/** Longest user name, password or group accepted (ocserv keeps 64; OTPs and passphrases need more). */
export const MAX_FIELD_CHARS = 256;
/** Longest <group-access> URL. */
export const MAX_URL_CHARS = 2048;
/** Longest <opaque> echo. */
export const MAX_OPAQUE_CHARS = 4096;
/** Most <auth> children or form fields kept. */
const MAX_FIELDS = 32;
/** Deepest element nesting accepted; openconnect's messages are 3 deep. */
const MAX_XML_DEPTH = 16;

/** What ocserv labels its XML answers with. */
export const AUTH_XML_CONTENT_TYPE = 'text/xml; charset=utf-8';
/** ocserv's prompts (worker-auth.c get_auth_handler2). */
export const LoginMessages = {
  USERNAME_PASSWORD: 'Please enter your username and password.',
  PASSWORD: 'Please enter your password.',
  OTP: 'Please enter your OTP password.',
} as const;

export interface InitMessage {
  kind: 'init';
  /** <version who="vpn">, e.g. "v9.12" */
  version?: string;
  /** <device-id>, e.g. "linux-64" */
  deviceId?: string;
  /** <device-id> attributes openconnect adds on mobile platforms. */
  platformVersion?: string;
  deviceType?: string;
  uniqueId?: string;
  /** The URL the client dialled. */
  groupAccess?: string;
  groupSelect?: string;
  /** <capabilities><auth-method>…, e.g. ["single-sign-on-v2", "multiple-cert"]. */
  capabilities: string[];
  /** The client's certificate was refused (<client-cert-fail/>). */
  clientCertFail: boolean;
}

export interface AuthReplyMessage {
  kind: 'auth-reply';
  /** 'xml' (aggregate auth) or 'form' (the old x-www-form-urlencoded POST). */
  format: 'xml' | 'form';
  username?: string;
  password?: string;
  /** A second password input (ocserv names it secondary_password). */
  secondaryPassword?: string;
  /** The chosen group: <group-select>, or group_list in a form POST. */
  groupSelect?: string;
  /** Text of the <opaque> element the client echoed back, if any. */
  opaque?: string;
  /** Every text child of <auth> (or every form field) by name; first wins. */
  fields: Record<string, string>;
}

export interface LogoutMessage {
  kind: 'logout';
  /** Cisco clients name the session they end. */
  sessionToken?: string;
}

export type ClientAuthMessage = InitMessage | AuthReplyMessage | LogoutMessage;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  // Answers are kept byte for byte (a password may start or end with a
  // space; ocserv keeps it too); metadata is trimmed where it is read.
  trimValues: false,
  // Only the five XML entities and character references (libxml2 writes
  // "&#13;" for CR); no DOCTYPE ever reaches the parser.
  processEntities: true,
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: MAX_XML_DEPTH,
});

function bad(message: string): WolfguardError {
  return new WolfguardError(ErrorCodes.PROTOCOL, message);
}

type Node = Record<string, unknown>;

function isNode(v: unknown): v is Node {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Text of an element: a string, the '#text' of an element with attributes, '' for an empty one. */
function text(node: unknown): string | undefined {
  if (node === undefined || node === null) return undefined;
  if (Array.isArray(node)) return text(node[0]);
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (isNode(node)) {
    const t = node['#text'];
    return t === undefined ? '' : text(t);
  }
  return undefined;
}

function attr(node: unknown, name: string): string | undefined {
  if (Array.isArray(node)) return attr(node[0], name);
  return isNode(node) ? text(node[`@${name}`])?.trim() : undefined;
}

/** Text of a metadata element, surrounding white space dropped. */
function meta(node: unknown): string | undefined {
  return text(node)?.trim();
}

function checked(name: string, v: string | undefined, max: number, allowControl = false): string | undefined {
  if (v === undefined) return undefined;
  if (v.length > max) throw bad(`${name} is longer than ${max} characters`);
  if (allowControl ? v.includes('\0') : /[\x00-\x1f\x7f]/.test(v)) throw bad(`${name} holds control characters`);
  return v;
}

function isPasswordName(name: string): boolean {
  return name === 'password' || name.endsWith('_password');
}

/** A client's POST body: XML aggregate auth, or the old form POST. */
export function parseAuthRequestBody(body: string | Uint8Array, contentType?: string): ClientAuthMessage {
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) throw bad('auth request body is not text');
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > MAX_AUTH_XML_BYTES) throw bad(`auth request body larger than ${MAX_AUTH_XML_BYTES} bytes`);
  const s = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8');
  const trimmed = s.replace(/^\uFEFF/, '').trim();
  if (trimmed.length === 0) throw bad('empty auth request body');
  if (trimmed.startsWith('<')) return parseXml(trimmed);
  if (contentType !== undefined && !/^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) {
    throw bad(`unsupported content type ${JSON.stringify(contentType.slice(0, 64))}`);
  }
  return parseForm(trimmed);
}

function parseForm(s: string): AuthReplyMessage {
  if (!/^[\x21-\x7e]*$/.test(s)) throw bad('form body is not URL-encoded text');
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  let n = 0;
  for (const pair of s.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw bad('form body has a field without a name or "="');
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(pair.slice(0, eq).replace(/\+/g, ' '));
      value = decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      throw bad('form body has a bad %-escape');
    }
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw bad(`form field name ${JSON.stringify(name.slice(0, 64))} is not a field name`);
    if (++n > MAX_FIELDS) throw bad(`form body has more than ${MAX_FIELDS} fields`);
    if (!(name in fields)) fields[name] = checked(name, value, MAX_FIELD_CHARS, isPasswordName(name))!;
  }
  return replyFrom('form', fields, undefined, undefined);
}

function replyFrom(format: 'xml' | 'form', fields: Record<string, string>, groupSelect: string | undefined, opaque: string | undefined): AuthReplyMessage {
  const out: AuthReplyMessage = { kind: 'auth-reply', format, fields };
  if (fields['username'] !== undefined) out.username = fields['username'];
  if (fields['password'] !== undefined) out.password = fields['password'];
  if (fields['secondary_password'] !== undefined) out.secondaryPassword = fields['secondary_password'];
  const group = groupSelect ?? fields['group_list'];
  if (group !== undefined) out.groupSelect = group;
  if (opaque !== undefined) out.opaque = opaque;
  return out;
}

function parseXml(s: string): ClientAuthMessage {
  // No DOCTYPE means no entity declarations: nothing to expand, nothing external.
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(s)) throw bad('DOCTYPE/ENTITY declarations are not accepted');
  let doc: Node;
  try {
    if (XMLValidator.validate(s) !== true) throw bad('auth request is not well-formed XML');
    doc = parser.parse(s) as Node;
  } catch (e) {
    if (e instanceof WolfguardError) throw e;
    throw bad('auth request is not well-formed XML');
  }
  const root = doc['config-auth'];
  if (!isNode(root)) throw bad('no <config-auth> root element');
  const type = text(root['@type']);
  switch (type) {
    case 'init':
      return parseInit(root);
    case 'auth-reply':
      return parseReply(root);
    case 'logout': {
      const out: LogoutMessage = { kind: 'logout' };
      const token = checked('session-token', meta(root['session-token']), MAX_OPAQUE_CHARS);
      if (token !== undefined) out.sessionToken = token;
      return out;
    }
    default:
      throw bad(`unknown config-auth type ${JSON.stringify((type ?? '').slice(0, 32))}`);
  }
}

function parseInit(r: Node): InitMessage {
  const out: InitMessage = { kind: 'init', capabilities: [], clientCertFail: r['client-cert-fail'] !== undefined };
  const set = <K extends keyof InitMessage>(k: K, v: InitMessage[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('version', checked('version', meta(r['version']), MAX_FIELD_CHARS));
  set('deviceId', checked('device-id', meta(r['device-id']), MAX_FIELD_CHARS));
  set('platformVersion', checked('platform-version', attr(r['device-id'], 'platform-version'), MAX_FIELD_CHARS));
  set('deviceType', checked('device-type', attr(r['device-id'], 'device-type'), MAX_FIELD_CHARS));
  set('uniqueId', checked('unique-id', attr(r['device-id'], 'unique-id'), MAX_FIELD_CHARS));
  set('groupAccess', checked('group-access', meta(r['group-access']), MAX_URL_CHARS));
  set('groupSelect', checked('group-select', meta(r['group-select']), MAX_FIELD_CHARS));
  const caps = r['capabilities'];
  if (isNode(caps)) {
    const methods = caps['auth-method'];
    for (const m of Array.isArray(methods) ? methods : [methods]) {
      const t = checked('auth-method', meta(m), MAX_FIELD_CHARS);
      if (t !== undefined && out.capabilities.length < MAX_FIELDS) out.capabilities.push(t);
    }
  }
  return out;
}

function parseReply(r: Node): AuthReplyMessage {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const auth = Array.isArray(r['auth']) ? (r['auth'] as unknown[])[0] : r['auth'];
  if (isNode(auth)) {
    let n = 0;
    for (const [name, value] of Object.entries(auth)) {
      if (name.startsWith('@') || name === '#text') continue;
      if (++n > MAX_FIELDS) throw bad(`<auth> has more than ${MAX_FIELDS} children`);
      const first = Array.isArray(value) ? (value as unknown[])[0] : value;
      // Only text children are answers; nested ones (Cisco's client-cert-chain) are not ours to read.
      if (isNode(first) && Object.keys(first).some((k) => !k.startsWith('@') && k !== '#text')) continue;
      const t = text(first);
      if (t !== undefined) fields[name] = checked(name, t, MAX_FIELD_CHARS, isPasswordName(name))!;
    }
  }
  const group = checked('group-select', meta(r['group-select']), MAX_FIELD_CHARS);
  const opaqueNode = r['opaque'];
  const opaque = opaqueNode === undefined ? undefined : checked('opaque', text(opaqueNode), MAX_OPAQUE_CHARS);
  return replyFrom('xml', fields, group, opaque);
}

/** Text and attribute values alike: the five XML specials. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export interface AuthField {
  type: 'text' | 'password';
  name: string;
  label: string;
}

export interface AuthGroup {
  /** What the client sends back as <group-select>. */
  value: string;
  /** What the user sees (ocserv's friendly name). */
  label: string;
}

export interface AuthRequestOptions {
  message: string;
  fields: AuthField[];
  /** Offered as <select name="group_list" label="Group:">. */
  groups?: Array<string | AuthGroup>;
  /** Listed first, as ocserv does: clients take the first option as the default. */
  selectedGroup?: string;
  /** A failed attempt; openconnect prints <error> text above the prompt. */
  error?: string;
  /** Shown before the form (ocserv pre-login-banner). */
  banner?: string;
  /** Echoed back verbatim in the auth-reply (<opaque is-for="sg">). */
  opaque?: string;
  action?: string;
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
/** ocserv VERSION_MSG: what it claims to be to Cisco clients. */
const VERSION_MSG = '<version who="sg">0.1(1)</version>\n';
const DEFAULT_ACTION = '/auth';

function checkText(what: string, s: string): string {
  if (s.includes('\0')) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `${what} holds a NUL`);
  return escapeXml(s);
}

/** The auth-request body: ocserv's OC_LOGIN_START .. OC_LOGIN_END. */
export function buildAuthRequest(o: AuthRequestOptions): string {
  let s = `${XML_HEAD}<config-auth client="vpn" type="auth-request">\n${VERSION_MSG}`;
  if (o.opaque !== undefined) s += `<opaque is-for="sg">${checkText('opaque', o.opaque)}</opaque>\n`;
  s += '<auth id="main">\n';
  if (o.banner !== undefined) s += `<banner>${checkText('banner', o.banner)}</banner>`;
  s += `<message>${checkText('message', o.message)}</message>\n`;
  if (o.error !== undefined) s += `<error>${checkText('error', o.error)}</error>\n`;
  s += `<form method="post" action="${checkText('action', o.action ?? DEFAULT_ACTION)}">\n`;
  for (const f of o.fields) {
    if (f.type !== 'text' && f.type !== 'password') throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `input type ${String(f.type)} is neither text nor password`);
    s += `<input type="${f.type}" name="${checkText('input name', f.name)}" label="${checkText('input label', f.label)}" />\n`;
  }
  if (o.groups && o.groups.length > 0) {
    const groups = o.groups.map((g) => (typeof g === 'string' ? { value: g, label: g } : g));
    const first = groups.findIndex((g) => g.value === o.selectedGroup);
    if (first > 0) groups.unshift(...groups.splice(first, 1));
    s += '<select name="group_list" label="Group:">\n';
    for (const g of groups) s += `<option value="${checkText('group', g.value)}">${checkText('group label', g.label)}</option>\n`;
    s += '</select>\n';
  }
  s += '</form></auth>\n</config-auth>';
  return s;
}

export interface AuthCompleteOptions {
  /** ocserv `banner`: shown by the client after login. */
  banner?: string;
  message?: string;
  /**
   * Cisco-style <session-token>: openconnect stores it as its webvpn cookie.
   * ocserv sends none (the Set-Cookie suffices).
   */
  sessionToken?: string;
}

/** The body of a successful login (type="complete"): ocserv's oc_success_msg_head .. OC_SUCCESS_MSG_FOOT. */
export function buildAuthComplete(o: AuthCompleteOptions = {}): string {
  let s = `${XML_HEAD}<config-auth client="vpn" type="complete">\n${VERSION_MSG}`;
  if (o.sessionToken !== undefined) s += `<session-token>${checkText('session token', o.sessionToken)}</session-token>\n`;
  s += '<auth id="success">\n<title>SSL VPN Service</title>';
  if (o.message !== undefined) s += `<message>${checkText('message', o.message)}</message>`;
  if (o.banner !== undefined) s += `<banner>${checkText('banner', o.banner)}</banner>`;
  s += '</auth></config-auth>\n';
  return s;
}
