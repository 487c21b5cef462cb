/**
 * Structured logs on stderr: `level message key=value ...`, or JSON lines with format 'json'.
 * Data and summaries go to stdout; logs never do.
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const order: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export class Logger {
  constructor(
    readonly level: LogLevel = 'info',
    readonly format: 'text' | 'json' = 'text',
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
  ) {}

  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (order[level] > order[this.level]) return;
    if (this.format === 'json') {
      this.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
      return;
    }
    const kv = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ');
    this.write(`${level === 'info' ? '' : level + ': '}${msg}${kv ? ' ' + kv : ''}\n`);
  }
  error = (msg: string, fields?: Record<string, unknown>) => this.log('error', msg, fields);
  warn = (msg: string, fields?: Record<string, unknown>) => this.log('warn', msg, fields);
  info = (msg: string, fields?: Record<string, unknown>) => this.log('info', msg, fields);
  debug = (msg: string, fields?: Record<string, unknown>) => this.log('debug', msg, fields);
}
