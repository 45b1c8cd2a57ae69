// A progress line on stderr for long runs, only when stderr is a terminal (logs stay clean).
export interface ProgressLine {
  (stage: string, done: number, total: number): void;
  done(): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  const tty = stream.isTTY === true;
  let last = 0;
  let shown = false;
  const f = ((stage: string, done: number, total: number): void => {
    if (!tty) return;
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    shown = true;
    const pct = total ? Math.floor((done / total) * 100) : 100;
    stream.write(`\r${stage}: ${done}/${total} (${pct}%)\x1b[K`);
  }) as ProgressLine;
  f.done = () => {
    if (tty && shown) stream.write('\r\x1b[K');
  };
  return f;
}
