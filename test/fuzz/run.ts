// `npm run fuzz`: every TypeScript fuzz target for FUZZ_SECONDS (default 60)
// in all, split evenly, in batches with fresh seeds; an input that breaks an
// invariant is shrunk and saved into the corpus as crash-<sha1> (then it is a
// regression test in `npm test`). Prints executions per target and exits 1 if
// anything broke. The native libFuzzer targets run after (fuzz/native/run.sh).
import fc from 'fast-check';
import { TARGETS, inputs } from './targets';
import { readCorpus, saveCrash } from './corpus';

/** Inputs per batch: small enough to check the clock often. */
const BATCH_RUNS = 500;
const DEFAULT_SECONDS = 60;

interface TargetReport {
  target: string;
  execs: number;
  corpus: number;
  crashes: string[];
}

function fuzzTarget(name: string, budgetMs: number): TargetReport {
  const t = TARGETS.find((x) => x.name === name)!;
  const corpus = readCorpus(name).map((c) => c.data);
  const report: TargetReport = { target: name, execs: 0, corpus: corpus.length, crashes: [] };
  const end = Date.now() + budgetMs;
  while (Date.now() < end) {
    const r = fc.check(
      fc.property(inputs(t, corpus), (b) => t.check(b)),
      { numRuns: BATCH_RUNS, interruptAfterTimeLimit: Math.max(1, end - Date.now()), markInterruptAsFailure: false },
    );
    report.execs += r.numRuns;
    if (r.failed && r.counterexample) {
      const input = r.counterexample[0] as Buffer;
      const file = saveCrash(name, input);
      report.crashes.push(`${file}: ${String((r.errorInstance as Error | undefined)?.message ?? '').split('\n')[0]}`);
      // One shrunk input per target and run: its mutations would fail again and again until it is fixed.
      break;
    }
  }
  return report;
}

function main(): void {
  const seconds = Number(process.env.FUZZ_SECONDS ?? DEFAULT_SECONDS);
  const only = process.argv.slice(2);
  const names = TARGETS.map((t) => t.name).filter((n) => only.length === 0 || only.includes(n));
  const perTarget = (seconds * 1000) / names.length;
  const reports = names.map((n) => fuzzTarget(n, perTarget));
  for (const r of reports) {
    console.log(`${r.target.padEnd(16)} execs ${String(r.execs).padStart(8)}  corpus ${r.corpus}  crashes ${r.crashes.length}`);
    for (const c of r.crashes) console.log(`  ${c}`);
  }
  if (reports.some((r) => r.crashes.length > 0)) process.exitCode = 1;
}

main();
