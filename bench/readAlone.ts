/**
 * The reader alone: `node dist/bench/readAlone.js <convert's arguments>` plans the same parts as
 * `convert` and reads every row of them into JS records (readers.ts, with convert's flags and
 * defaults), then drops them: no adapter, no content id, no writer.
 *
 * Why: it is the floor of any convert that hands rows to TypeScript operators, so the convert
 * bench can show how much of the distance to DuckDB's COPY is reading alone (a JSON line costs a
 * UTF-8 decode and a JSON.parse on one thread; a Parquet text, a string made from its bytes).
 */
import yargs from 'yargs';
import { withIoOptions, ioConfig, type IoArgs } from '../src/cli/ioOptions.js';
import { expandInputs, planParts } from '../src/runtime/io/inputs.js';
import { readPartRows } from '../src/runtime/io/readers.js';

async function main(): Promise<void> {
  // The same flags and defaults as convert's (ioOptions.ts), under a default command so that the
  // inputs are positional as there.
  const args = yargs(process.argv.slice(2))
    .command('$0 <inputs..>', 'read as convert reads', (y) => withIoOptions(y))
    .strict()
    .parseSync() as unknown as IoArgs;
  const io = ioConfig(args);
  const parts = await planParts(await expandInputs(io.inputs), { partRows: io.partRows, partBytes: io.partBytes });
  let rows = 0;
  // One part after another, as convert reads them on one process.
  for (const part of parts) for await (const batch of readPartRows(part, io.read)) rows += batch.length;
  process.stdout.write(`${rows} rows from ${parts.length} part(s)\n`);
}

main().catch((err) => {
  process.stderr.write(`readAlone failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
