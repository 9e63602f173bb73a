// The CRL of certificate login follows its file, as ocserv's does ("reloaded
// periodically when ocserv detects a change in the file"): the CA replaces
// crl.pem, and new handshakes of this shard are checked against the new one.
import * as fs from 'node:fs';
import type { TlsContext } from '../../native/lib';

/** How often the CRL file's mtime is looked at (a stat, no read, per shard). */
export const CRL_POLL_MS = 30_000;

/** Starts watching; returns the function that stops it. Problems go to `report` (the old CRL stays). */
export function watchCrl(ctx: TlsContext, file: string, report: (message: string) => void, intervalMs = CRL_POLL_MS): () => void {
  const onChange = (cur: fs.Stats, prev: fs.Stats): void => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
    if (cur.nlink === 0 && cur.mtimeMs === 0) return; // removed: keep the last CRL rather than none
    try {
      ctx.reloadCrl({ file });
    } catch (e) {
      report(`CRL ${file} not reloaded: ${(e as Error).message}`);
    }
  };
  const watcher = fs.watchFile(file, { interval: intervalMs, persistent: false }, onChange);
  return () => {
    watcher.removeAllListeners();
    fs.unwatchFile(file, onChange);
  };
}
