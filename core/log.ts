// Logging: pino JSON lines, pretty-printed when stdout is a terminal.

import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = 'info', pretty = process.stdout.isTTY === true): Logger {
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
