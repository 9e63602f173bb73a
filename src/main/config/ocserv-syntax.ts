// Tokenizer for ocserv's configuration syntax. ocserv reads its file with a
// bundled inih (src/inih/ini.c) built with INI_STOP_ON_FIRST_ERROR=1,
// INI_ALLOW_MULTILINE=1, INI_MAX_LINE=2048 and INI_INLINE_COMMENT_PREFIXES="#"
// (meson.build), then strips blanks and double quotes from both ends of each
// value (sanitize_config_value in src/config.c). This module reproduces that
// reading, so a file means here what it means to ocserv:
//
// - `key = value` or `key: value`, split at the first '=' or ':';
// - whole-line comments start with '#' or ';'; an inline comment is a '#'
//   preceded by whitespace;
// - a non-blank line that starts with whitespace continues the previous key:
//   it is one more value of that key (how inih does Python-style multi-line);
// - `[section]` lines open sections (ocserv: `[vhost:name]`);
// - quotes are not a quoting mechanism: every leading and trailing '"' goes.
//
// Pure: text in, tokens out; errors are WolfguardError CONFIG_INVALID with
// details.line.
import { ErrorCodes, WolfguardError } from '../../common/errors';

export interface ConfigToken {
  key: string;
  /** Value with surrounding blanks and double quotes removed (may be empty). */
  value: string;
  /** 1-based line number. */
  line: number;
  /** Section the key is in (`vhost:example.com`), undefined at top level. */
  section?: string;
  /** Set when the line was an indented continuation of `key` from an earlier line. */
  continued?: boolean;
}

/** inih's buffer is INI_MAX_LINE (2048) bytes including the NUL; longer lines are split by fgets. */
export const MAX_LINE_CHARS = 2047;

const BOM = '\uFEFF';
const START_COMMENT = ';#';
const INLINE_COMMENT = '#';

// inih uses C isspace(): space, \t, \n, \v, \f, \r.
function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function trim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s[a])) a++;
  while (b > a && isSpace(s[b - 1])) b--;
  return s.slice(a, b);
}

/** Index of the first char in `chars`, or of an inline comment, or s.length (inih's find_chars_or_comment). */
function findCharsOrComment(s: string, from: number, chars: string | null): number {
  let wasSpace = false;
  let i = from;
  for (; i < s.length; i++) {
    const c = s[i];
    if (chars !== null && chars.includes(c)) break;
    if (wasSpace && INLINE_COMMENT.includes(c)) break;
    wasSpace = isSpace(c);
  }
  return i;
}

/** ocserv's sanitize_config_value: drop blanks and '"' from both ends. */
export function sanitizeValue(raw: string): string {
  let a = 0;
  let b = raw.length;
  while (b > a && (isSpace(raw[b - 1]) || raw[b - 1] === '"')) b--;
  while (a < b && (isSpace(raw[a]) || raw[a] === '"')) a++;
  return raw.slice(a, b);
}

function syntaxError(line: number, why: string): WolfguardError {
  return new WolfguardError(ErrorCodes.CONFIG_INVALID, `line ${line}: ${why}`, { line });
}

export function tokenizeConfig(text: string): ConfigToken[] {
  if (typeof text !== 'string') throw new WolfguardError(ErrorCodes.CONFIG_INVALID, 'configuration text must be a string');
  const tokens: ConfigToken[] = [];
  let section: string | undefined;
  let prevKey = '';
  const lines = text.split('\n');
  // A final newline does not start another line.
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let raw = lines[i];
    if (i === 0 && raw.startsWith(BOM)) raw = raw.slice(BOM.length);
    if (raw.length > MAX_LINE_CHARS) throw syntaxError(lineNo, `line is longer than ${MAX_LINE_CHARS} characters (ocserv's limit)`);
    const start = trim(raw);
    // An empty line counts as a comment for inih: it keeps the previous key for continuations.
    if (start === '' || START_COMMENT.includes(start[0])) continue;
    const indented = isSpace(raw[0]);
    if (prevKey !== '' && indented) {
      tokens.push(withSection({ key: prevKey, value: sanitizeValue(start), line: lineNo, continued: true }, section));
      continue;
    }
    if (start[0] === '[') {
      const end = findCharsOrComment(start, 1, ']');
      if (start[end] !== ']') throw syntaxError(lineNo, `section header without a closing "]"`);
      section = start.slice(1, end);
      prevKey = '';
      continue;
    }
    const sep = findCharsOrComment(start, 0, '=:');
    if (start[sep] !== '=' && start[sep] !== ':') {
      throw syntaxError(lineNo, `expected "key = value", found ${JSON.stringify(clip(start))}`);
    }
    const key = trim(start.slice(0, sep));
    if (key === '') throw syntaxError(lineNo, `missing key before "${start[sep]}"`);
    const valueEnd = findCharsOrComment(start, sep + 1, null);
    tokens.push(withSection({ key, value: sanitizeValue(start.slice(sep + 1, valueEnd)), line: lineNo }, section));
    prevKey = key;
  }
  return tokens;
}

function withSection(t: ConfigToken, section: string | undefined): ConfigToken {
  if (section !== undefined) t.section = section;
  return t;
}

const CLIP_CHARS = 60;
function clip(s: string): string {
  return s.length > CLIP_CHARS ? `${s.slice(0, CLIP_CHARS)}…` : s;
}
