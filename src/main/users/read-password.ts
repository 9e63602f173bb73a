// Where `wolfguard passwd` gets the password, as ocpasswd does: on a terminal,
// asked twice without echo; otherwise the first line of stdin.
import { ErrorCodes, WolfguardError } from '../../common/errors';
import type { PasswordSource } from './passwd-command';

/** A password line longer than this is not typed by a person; refuse rather than buffer forever. */
const MAX_PASSWORD_CHARS = 4096;
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = '\u007f';
const CTRL_H = '\b';

function noPassword(): WolfguardError {
  return new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'please specify a password');
}

/** The first line of a non-terminal stdin, without its line end. */
export function readPasswordLine(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = (err: Error | null, value?: string) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      if (err) reject(err);
      else resolve(value ?? '');
    };
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(null, buf.slice(0, nl).replace(/\r$/, ''));
      else if (buf.length > MAX_PASSWORD_CHARS) finish(new WolfguardError(ErrorCodes.INVALID_ARGUMENT, `password longer than ${MAX_PASSWORD_CHARS} characters`));
    };
    const onEnd = () => finish(null, buf.replace(/\r$/, ''));
    const onError = (e: Error) => finish(e);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/** One password from the terminal, echo off (raw mode), typed up to Enter. */
function askHidden(prompt: string, tty: NodeJS.ReadStream, out: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = '';
    out.write(prompt);
    tty.setRawMode(true);
    tty.setEncoding('utf8');
    const done = (err: Error | null) => {
      tty.off('data', onData);
      tty.setRawMode(false);
      tty.pause();
      out.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === CTRL_C || ch === CTRL_D) return done(noPassword());
        if (ch === BACKSPACE || ch === CTRL_H) value = value.slice(0, -1);
        else if (value.length < MAX_PASSWORD_CHARS) value += ch;
      }
    };
    tty.on('data', onData);
    tty.resume();
  });
}

/** The password source for the CLI: prompts twice on a TTY, else reads a line of stdin. */
export function stdinPasswordSource(): PasswordSource {
  return async () => {
    const stdin = process.stdin;
    if (!stdin.isTTY) return readPasswordLine(stdin);
    const first = await askHidden('Enter password: ', stdin, process.stderr);
    const second = await askHidden('Re-enter password: ', stdin, process.stderr);
    if (first !== second) throw new WolfguardError(ErrorCodes.INVALID_ARGUMENT, 'passwords do not match');
    return first;
  };
}
