/**
 * A one-line progress bar for terminals: `[#####-----] 5/10 esp32-a`, redrawn in place. Lines
 * logged meanwhile are printed above it.
 */
export interface ProgressBar {
  tick(label: string): void;
  log(line: string): void;
  done(): void;
}

export function progressBar(total: number, out: { write(s: string): unknown; columns?: number }): ProgressBar {
  let count = 0;
  let label = '';
  const width = 30;
  const draw = () => {
    const filled = total ? Math.round((count / total) * width) : width;
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${count}/${total} ${label}`;
    out.write(`\r\x1b[2K${line.slice(0, (out.columns ?? 80) - 1)}`);
  };
  draw();
  return {
    tick(l) {
      count++;
      label = l;
      draw();
    },
    log(line) {
      out.write(`\r\x1b[2K${line}\n`);
      draw();
    },
    done() {
      out.write('\r\x1b[2K');
    },
  };
}
