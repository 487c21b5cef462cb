#!/usr/bin/env node
/**
 * The prefrank command line. Each command lives in src/cli/commands/ and is registered here.
 * Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { CommandModule } from 'yargs';
import { oneLine, UsageError, UserError } from '../runtime/errors.js';
import { convertCommand } from './commands/convert.js';
import { embedCommand } from './commands/embed.js';
import { mergeCommand } from './commands/merge.js';
import { probeCommand } from './commands/probe.js';
import { rerankCommand } from './commands/rerank.js';
import { reportCommand } from './commands/report.js';
import { sqlCommand } from './commands/sql.js';
import { statsCommand } from './commands/stats.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const commands: CommandModule<any, any>[] = [convertCommand, rerankCommand, embedCommand, mergeCommand, probeCommand, sqlCommand, statsCommand, reportCommand];

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
  for (const c of commands) parser.command(c);
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

main(hideBin(process.argv)).then((code) => {
  process.exitCode = code;
});
