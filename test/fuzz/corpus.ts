// The checked-in corpus: test/fixtures/fuzz/<target>/<file>, one input per
// file (raw bytes). Seeds written by hand to reach deep into each parser, and
// every input that ever broke an invariant (named crash-<sha1>), kept so the
// bug stays fixed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

/** The corpus directory, found from the source tree or from its compiled copy (dist/, .build-*). */
export function corpusRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'test', 'fixtures', 'fuzz');
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`test/fixtures/fuzz not found above ${__dirname}`);
}

export interface CorpusEntry {
  file: string;
  data: Buffer;
}

export function readCorpus(target: string): CorpusEntry[] {
  const dir = path.join(corpusRoot(), target);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => ({ file: path.join(dir, f), data: fs.readFileSync(path.join(dir, f)) }));
}

/** Saves an input that broke an invariant; returns its path. */
export function saveCrash(target: string, data: Buffer): string {
  const dir = path.join(corpusRoot(), target);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `crash-${createHash('sha1').update(data).digest('hex')}`);
  fs.writeFileSync(file, data);
  return file;
}
