#!/usr/bin/env node
/**
 * The prefrank command line. Each command lives in src/cli/commands/ and is registered here.
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { CommandModule } from 'yargs';
import { oneLine, UsageError, UserError } from '../runtime/errors.js';
import { configureDuckDbAllocator } from '../runtime/io/duckDbAllocator.js';
type AnyCommand = CommandModule<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Commands by name, loaded on demand: a command's module pulls in what it needs (onnxruntime,
 * DuckDB, Vega, parquet-wasm), and loading all of them costs a second or more at every start.
 */
const commands: Record<string, () => Promise<AnyCommand>> = {
  convert: async () => (await import('./commands/convert.js')).convertCommand,
  rerank: async () => (await import('./commands/rerank.js')).rerankCommand,
  embed: async () => (await import('./commands/embed.js')).embedCommand,
  merge: async () => (await import('./commands/merge.js')).mergeCommand,
  probe: async () => (await import('./commands/probe.js')).probeCommand,
  sql: async () => (await import('./commands/sql.js')).sqlCommand,
  stats: async () => (await import('./commands/stats.js')).statsCommand,
  report: async () => (await import('./commands/report.js')).reportCommand,
};

/** The command the user named: the first word that is not a flag. */
const commandWord = (argv: readonly string[]) => argv.find((a) => !a.startsWith('-'));

/** The named command only; every command when none is named or the name is unknown (help, suggestions). */
async function loadCommands(argv: readonly string[]): Promise<AnyCommand[]> {
  const first = commandWord(argv);
  const names = first !== undefined && first in commands ? [first] : Object.keys(commands);
  return Promise.all(names.map((n) => commands[n]()));
}

/** What the user typed for a flag: `--flag value` or `--flag=value`. */
function rawFlagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) return argv[i + 1];
    if (argv[i].startsWith(flag + '=')) return argv[i].slice(flag.length + 1);
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  const parser = yargs(argv)
    .scriptName('prefrank')
    .usage('$0 <command> [options]\n\nRe-rank LLM preference pairs with a reward read from the model\'s own hidden states.')
    .option('log-level', { choices: ['error', 'warn', 'info', 'debug'] as const, default: 'info', describe: 'Log verbosity (stderr)' })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text', describe: 'Log lines as text or JSON (stderr)' })
    .demandCommand(1, 'Name a command; see --help.')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stderr.columns || 100))
    .fail((msg, err) => {
      // yargs calls this for usage errors (msg set) and for errors thrown by handlers (err set).
      if (err) throw err;
      // Throw, not just print: a fail handler that returns lets yargs go on to run the command's
      // handler with the invalid arguments (e.g. no --out).
      throw new UsageError(`${msg.replace(/\s*\n\s*/g, ' ')} (run 'prefrank --help' for usage)`);
    });
  // A number flag given text (--batch-rows abc) reaches the commands as NaN; say what was typed,
  // once, before any command checks its flags.
  parser.middleware((args) => {
    for (const [key, v] of Object.entries(args)) {
      if (typeof v !== 'number' || !Number.isNaN(v) || key.includes('-')) continue;
      const flag = '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
      throw new UsageError(`${flag} must be a number, got ${JSON.stringify(rawFlagValue(argv, flag) ?? '')}`);
    }
  }, true);
  for (const c of await loadCommands(argv)) parser.command(c);
  try {
    // A handler that finishes with partial failure (an unreadable input file) sets process.exitCode.
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`prefrank: ${oneLine(err)}\n`);
      return err.exitCode;
    }
    process.stderr.write(`prefrank: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
  return (process.exitCode as number | undefined) || 0;
}

const argv = hideBin(process.argv);
// Before any command module loads DuckDB (duckDbAllocator.ts).
configureDuckDbAllocator(commandWord(argv));
main(argv).then((code) => {
  process.exitCode = code;
});
