/**
 * Upload progress on stderr: redrawn in place on a terminal (`uploading fw.bin: 45 % (12.0 of 26.7
 * MiB)`), one line at each quarter otherwise (logs of CI jobs stay short).
 */
export interface ByteProgress {
  start(total: number): void;
  update(sent: number): void;
  done(): void;
}

export function byteProgress(out: { write(s: string): unknown; isTTY?: boolean }, label: string): ByteProgress {
  let total = 0;
  let lastQuarter = 0;
  let drawn = false;
  const mib = (n: number) => (n / (1 << 20)).toFixed(1);
  const line = (sent: number) => `uploading ${label}: ${Math.floor((sent / total) * 100)} % (${mib(sent)} of ${mib(total)} MiB)`;
  return {
    start(t) {
      total = t;
      if (out.isTTY) { out.write(`\r\x1b[2K${line(0)}`); drawn = true; }
    },
    update(sent) {
      if (!total) return;
      if (out.isTTY) { out.write(`\r\x1b[2K${line(sent)}`); drawn = true; return; }
      const quarter = Math.floor((sent / total) * 4);
      if (quarter > lastQuarter) {
        lastQuarter = quarter;
        out.write(`${line(sent)}\n`);
      }
    },
    done() {
      if (drawn) out.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
