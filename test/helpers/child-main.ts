// The start and end every JSON-printing test child shares: run main, print
// what it returns as one JSON line and exit 0 (open handles or not), or print
// the error's stack and exit 1.
export function runChild(main: () => Promise<unknown>): void {
  main().then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
