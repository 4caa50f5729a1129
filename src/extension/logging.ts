import type * as vscode from 'vscode';
import { componentLogger, type Logger } from '../core/log';

/**
 * The core's Logger written to the "Memory Lane" LogOutputChannel. The channel carries the level
 * (the user picks it with "Developer: Set Log Level…"); components prefix their lines, e.g.
 * `[lock] acquired after 1203 ms`, `[upgrade] run … finished`.
 */
export function channelLogger(channel: vscode.LogOutputChannel, component?: string): Logger {
  const base: Logger = {
    trace: (m) => channel.trace(m),
    debug: (m) => channel.debug(m),
    info: (m) => channel.info(m),
    warn: (m) => channel.warn(m),
    error: (m) => channel.error(m),
  };
  return component ? componentLogger(base, component) : base;
}
