import type { Config } from '../lib/config.ts';

export type ProgressMode = Config['SKJOLD_PROGRESS'];

/** Where progress goes (stderr): a terminal gets one line redrawn in place. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  mode: ProgressMode;
  out?: ProgressOutput;
  /** How often a terminal's line is redrawn (the elapsed time moves on its own), in ms. */
  redrawMs?: number;
  now?: () => number;
}

export interface Progress {
  /** Whether anything is shown at all. */
  readonly on: boolean;
  /** What is happening now, e.g. "412 of 1,200 devices registered". */
  update(text: string): void;
  /** The last line, kept on screen: what was done and how long it took. */
  done(text: string): void;
  /** Clears the line (the command failed and says why itself). */
  stop(): void;
}

const CLEAR_LINE = '\r\u001b[2K';
/** Without a terminal (SKJOLD_PROGRESS=always into a pipe or file): at most a line this often. */
const PIPE_LINE_MS = 1_000;

function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** 1234567 → "1.2 MiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(1)} ${units[i]}`;
}

export const formatCount = (n: number): string => n.toLocaleString('en-GB');

/**
 * Progress of long CLI work (import, retention run, exports) on stderr, so
 * stdout stays the command's real output for pipes and files. Shown when
 * stderr is a terminal (SKJOLD_PROGRESS=auto), always, or never; on a
 * terminal one line is redrawn in place and the last one stays.
 */
export function createProgress(label: string, options: ProgressOptions): Progress {
  const out = options.out ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = out.isTTY === true;
  const on = options.mode === 'always' || (options.mode === 'auto' && tty);
  const started = now();
  let text = '';
  const redrawMs = options.redrawMs ?? 250;
  let lastWrite = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;

  const line = () => `${label}: ${text}${text ? ', ' : ''}${elapsed(now() - started)}`;
  const draw = () => {
    lastWrite = now();
    out.write(`${CLEAR_LINE}${line()}`);
  };
  if (on && tty) timer = setInterval(draw, redrawMs).unref();

  /** After done() or stop(): an update arriving late (a poll still in flight) writes nothing after the last line. */
  let finished = false;
  const finish = () => {
    finished = true;
    if (timer) clearInterval(timer);
    timer = undefined;
  };

  return {
    on,
    update(next) {
      if (!on || finished) return;
      text = next;
      // Updates can come per chunk of a download: written at most every redraw (terminal) or second (pipe).
      if (tty) {
        if (now() - lastWrite >= redrawMs) draw();
      } else if (now() - lastWrite >= PIPE_LINE_MS) {
        lastWrite = now();
        out.write(`${line()}\n`);
      }
    },
    done(final) {
      if (!on) return;
      finish();
      out.write(`${tty ? CLEAR_LINE : ''}${label}: ${final} in ${elapsed(now() - started)}\n`);
    },
    stop() {
      if (!on) return;
      finish();
      if (tty) out.write(CLEAR_LINE);
    },
  };
}
