import cliProgress from 'cli-progress';

/** Progress of a long command on stderr: a bar on a terminal, plain lines otherwise. */
export interface Progress {
  update(done: number, total: number, unit: string): void;
  stop(): void;
}

/** Plain lines at most this often, and at every tenth of the way. */
const PLAIN_EVERY_MS = 2000;

/**
 * A bar (cli-progress) when stderr is a terminal; otherwise a line such as
 * `backup shop: 40% (4096/10240 pages)` at each tenth of the way and at least every 2 s, so
 * that logs of scripts and CI show progress without control characters.
 */
export function progress(label: string, err: (line: string) => void): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} {unit} | eta {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, unit) {
        if (!started) {
          bar.start(Math.max(total, done), done, { unit });
          started = true;
        } else {
          bar.setTotal(Math.max(total, done));
          bar.update(done, { unit });
        }
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let lastTenth = -1;
  let lastAt = 0;
  return {
    update(done, total, unit) {
      const tenth = total > 0 ? Math.floor((done / total) * 10) : 0;
      const now = Date.now();
      if (tenth !== lastTenth || now - lastAt >= PLAIN_EVERY_MS) {
        lastTenth = tenth;
        lastAt = now;
        const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
        err(`${label}: ${percent}% (${done}/${total} ${unit})`);
      }
    },
    // The command prints its summary; a plain log needs no closing line.
    stop: () => undefined,
  };
}
