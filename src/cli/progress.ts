// A progress bar on standard error when it is a terminal; silent otherwise (pipes, CI, tests).
// `note` is shown after the counts (e.g. the current loss).

export function progressBar(
  label: string,
  total: number,
): (done: number, total?: number, note?: string) => void {
  if (!process.stderr.isTTY || total === 0) return () => {};
  const start = Date.now();
  return (done, t = total, note = "") => {
    const frac = t ? done / t : 1;
    const width = 30;
    const fill = Math.round(frac * width);
    const secs = (Date.now() - start) / 1000;
    const eta = done ? (secs / done) * (t - done) : 0;
    process.stderr.write(
      `\r${label} [${"#".repeat(fill)}${"-".repeat(width - fill)}] ${done}/${t} ${secs.toFixed(0)}s eta ${eta.toFixed(0)}s ${note}`,
    );
    if (done >= t) process.stderr.write("\n");
  };
}
