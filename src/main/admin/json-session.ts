// One connection speaking the line protocol: split lines (capped), answer
// each with one JSON line, in order. The peer may half-close (socat does
// at the end of its input): the answers still go out, then we close.
// A peer that stops reading its answers stops being read (back-pressure),
// and an idle connection is closed so a forgotten socat holds nothing.
import type * as net from 'node:net';
import { LineSplitter, type LineEvent } from './line-splitter';
import { errorReply, isErrorReply, parseCommandLine } from './json-command';
import { executeCommand } from './json-commands';
import type { AdminContext } from './server';

/** Same bound as an HTTP request body on this socket: commands are short. */
export const MAX_JSON_LINE = 4096;
/** Answers queued for a peer that is not reading before we stop reading it. */
const MAX_PENDING_OUTPUT = 1 << 20;
/** An operator's interactive socat may sit for a while; not for ever. */
export const JSON_IDLE_TIMEOUT_MS = 10 * 60 * 1000;

export function serveJsonLines(socket: net.Socket, ctx: AdminContext, first: Buffer, idleMs = JSON_IDLE_TIMEOUT_MS): void {
  const lines = new LineSplitter(MAX_JSON_LINE);
  let ended = false;
  socket.setTimeout(idleMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());

  const answer = (events: LineEvent[]) => {
    for (const ev of events) {
      if (socket.destroyed) return;
      let reply: object | undefined;
      if (ev.kind === 'too_long') reply = errorReply(`line longer than ${MAX_JSON_LINE} bytes (${ev.bytes}); ignored`);
      else {
        const cmd = parseCommandLine(ev.text);
        if (cmd === undefined) continue;
        reply = isErrorReply(cmd) ? cmd : executeCommand(ctx, cmd);
      }
      socket.write(`${JSON.stringify(reply)}\n`);
    }
    if (socket.writableLength > MAX_PENDING_OUTPUT && !ended) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  };

  socket.on('data', (chunk: Buffer) => answer(lines.push(chunk)));
  socket.on('end', () => {
    ended = true;
    answer(lines.end());
    socket.end();
  });
  answer(lines.push(first));
}
