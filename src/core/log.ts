/** The core logs through this interface; the extension adapts it to a LogOutputChannel, the CLI and MCP server to stderr. */
export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type LogLevel = keyof Logger;
const LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

export const nullLogger: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Prefixes every line with a component tag, e.g. `[lock]`, as the output channel shows it. */
export function componentLogger(base: Logger, component: string): Logger {
  const prefix = `[${component}] `;
  return {
    trace: (m) => base.trace(prefix + m),
    debug: (m) => base.debug(prefix + m),
    info: (m) => base.info(prefix + m),
    warn: (m) => base.warn(prefix + m),
    error: (m) => base.error(prefix + m),
  };
}

/** Writes to stderr (never stdout: the CLI's stdout is one JSON document, the MCP server's is the protocol). */
export function stderrLogger(minLevel: LogLevel = 'info'): Logger {
  const min = LEVELS.indexOf(minLevel);
  const at = (level: LogLevel) => (m: string) => {
    if (LEVELS.indexOf(level) >= min) process.stderr.write(`${new Date().toISOString()} ${level} ${m}\n`);
  };
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function parseLogLevel(value: string | undefined, fallback: LogLevel): LogLevel {
  return value && (LEVELS as string[]).includes(value) ? (value as LogLevel) : fallback;
}
