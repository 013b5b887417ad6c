/**
 * How every process logs (pino, to stderr): human-readable lines on a terminal, JSON lines when piped
 * or collected (systemd, a log shipper), or as `--log-format` says. Colours only on a terminal and
 * never under NO_COLOR (no-color.org). pino-pretty is loaded only for human-readable output, so a
 * gateway under systemd never carries it.
 */
import pino, { type Logger } from 'pino';
import { Option } from 'commander';

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function logFormatOption(): Option {
  return new Option('--log-format <format>', 'log lines as JSON, or human-readable (auto: readable on a terminal, JSON when piped)').choices(LOG_FORMATS).default('auto');
}

/** Whether `format` means human-readable lines on this stderr. */
export function readableLogs(format: LogFormat, stderrIsTty = process.stderr.isTTY === true): boolean {
  return format === 'pretty' || (format === 'auto' && stderrIsTty);
}

export async function createLogger(o: { level: string; format: LogFormat; base?: Record<string, unknown> }): Promise<Logger> {
  const options = { level: o.level, ...(o.base ? { base: o.base } : {}) };
  if (!readableLogs(o.format)) return pino(options, pino.destination(2));
  const { default: pretty } = await import('pino-pretty');
  return pino(options, pretty({ destination: 2, colorize: process.stderr.isTTY === true && !process.env.NO_COLOR, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
}
