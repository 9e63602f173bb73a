// The admin socket's line protocol: one JSON object a line, as an operator
// types it into `socat - UNIX-CONNECT:<socket>`, one JSON line back each.
// Pure: a line in, a validated command (or the error line to send) out.
//
//   {"command":"block_ip","ip":"192.0.2.7","reason":"brute force","seconds":3600}
//   {"command":"unblock_ip","ip":"192.0.2.7"}
//   {"command":"reload_rules"}
//   {"command":"show_rules"}
//   {"command":"show_users"}
//
// "ip" takes an address or a prefix; "reason" and "seconds" (default: until
// unblocked) are optional. Any command may carry an "id" (string or number)
// that the answer repeats, so a script can match answers to questions.
// Answers: {"status":"ok","command":…,…} or {"status":"error","message":…}.

export const JSON_COMMANDS = ['block_ip', 'unblock_ip', 'reload_rules', 'show_rules', 'show_users'] as const;
export type JsonCommandName = (typeof JSON_COMMANDS)[number];

export type RequestId = string | number;

export type JsonCommand =
  | { command: 'block_ip'; ip: string; reason?: string; seconds?: number; id?: RequestId }
  | { command: 'unblock_ip'; ip: string; id?: RequestId }
  | { command: 'reload_rules' | 'show_rules' | 'show_users'; id?: RequestId };

export interface JsonErrorReply {
  status: 'error';
  message: string;
  command?: string;
  id?: RequestId;
}

/** Longest "ip" value: an IPv6 address with a /128 and a zone is under this. */
const MAX_IP_CHARS = 64;
const MAX_REASON_CHARS = 256;
const MAX_ID_CHARS = 64;
/** One year, as the rules file's limit for durations. */
export const MAX_BLOCK_SECONDS = 31_536_000;
/** Values quoted back in error messages are cut to this length. */
const MAX_SHOWN = 40;

const KEYS: Readonly<Record<JsonCommandName, readonly string[]>> = {
  block_ip: ['command', 'id', 'ip', 'reason', 'seconds'],
  unblock_ip: ['command', 'id', 'ip'],
  reload_rules: ['command', 'id'],
  show_rules: ['command', 'id'],
  show_users: ['command', 'id'],
};

function shown(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s;
}

export function errorReply(message: string, command?: string, id?: RequestId): JsonErrorReply {
  const r: JsonErrorReply = { status: 'error', message };
  if (command !== undefined) r.command = command;
  if (id !== undefined) r.id = id;
  return r;
}

/** Blank lines are not commands: undefined means "no answer". */
export function parseCommandLine(line: string): JsonCommand | JsonErrorReply | undefined {
  if (line.trim() === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return errorReply(`not JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return errorReply(`expected a JSON object such as {"command":"show_users"}, got ${shown(v)}`);
  const o = v as Record<string, unknown>;
  let id: RequestId | undefined;
  if (o.id !== undefined) {
    if ((typeof o.id === 'string' && o.id.length <= MAX_ID_CHARS) || (typeof o.id === 'number' && Number.isFinite(o.id))) id = o.id;
    else return errorReply(`"id" must be a string of at most ${MAX_ID_CHARS} characters or a number, got ${shown(o.id)}`);
  }
  const name = o.command;
  if (typeof name !== 'string') return errorReply(`"command" is required (one of ${JSON_COMMANDS.join(', ')})`, undefined, id);
  if (!(JSON_COMMANDS as readonly string[]).includes(name)) return errorReply(`unknown command ${shown(name)} (known: ${JSON_COMMANDS.join(', ')})`, undefined, id);
  const cmd = name as JsonCommandName;
  for (const k of Object.keys(o)) if (!KEYS[cmd].includes(k)) return errorReply(`unknown key ${shown(k)} for ${cmd} (allowed: ${KEYS[cmd].join(', ')})`, cmd, id);
  const withId = <T extends object>(c: T): T & { id?: RequestId } => (id === undefined ? c : { ...c, id });
  if (cmd === 'block_ip' || cmd === 'unblock_ip') {
    if (typeof o.ip !== 'string' || o.ip.length === 0) return errorReply(`"ip" is required: an address or prefix, got ${shown(o.ip)}`, cmd, id);
    if (o.ip.length > MAX_IP_CHARS) return errorReply(`"ip" is longer than ${MAX_IP_CHARS} characters`, cmd, id);
    if (cmd === 'unblock_ip') return withId({ command: cmd, ip: o.ip });
    const c: { command: 'block_ip'; ip: string; reason?: string; seconds?: number } = { command: cmd, ip: o.ip };
    if (o.reason !== undefined) {
      if (typeof o.reason !== 'string' || o.reason.length > MAX_REASON_CHARS) return errorReply(`"reason" must be a string of at most ${MAX_REASON_CHARS} characters`, cmd, id);
      c.reason = o.reason;
    }
    if (o.seconds !== undefined) {
      if (typeof o.seconds !== 'number' || !Number.isInteger(o.seconds) || o.seconds < 1 || o.seconds > MAX_BLOCK_SECONDS) {
        return errorReply(`"seconds" must be a whole number from 1 to ${MAX_BLOCK_SECONDS} (leave it out to block until unblocked), got ${shown(o.seconds)}`, cmd, id);
      }
      c.seconds = o.seconds;
    }
    return withId(c);
  }
  return withId({ command: cmd });
}

export function isErrorReply(x: JsonCommand | JsonErrorReply): x is JsonErrorReply {
  return (x as JsonErrorReply).status === 'error';
}
