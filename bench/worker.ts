// The benchmarks run xlir in child processes of their own script, so that a child's peak RSS is
// that of what it measures and the parent holds no weights; these are the parent's side of that.

import { type ChildProcess, fork } from "node:child_process";

/** Fork `script` under this process's Node flags (tsx's loader), on our stdout and stderr, with IPC. */
export function forkChild(script: string, args: string[]): ChildProcess {
  return fork(script, args, { execArgv: process.execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
}

type WorkerError = { type: "error"; message: string };

/** The parent's handle on a worker: request -> the next reply. */
export class WorkerHandle<To extends object, From extends { type: string }> {
  private waiting: ((m: From | WorkerError) => void) | undefined;
  private readonly queue: (From | WorkerError)[] = [];
  private exited: string | undefined;
  constructor(private readonly child: ChildProcess) {
    child.on("message", (m: From) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(m);
      } else this.queue.push(m);
    });
    child.on("exit", (code, signal) => {
      this.exited = `xlir worker exited (${signal ?? `code ${code}`})`;
      this.waiting?.({ type: "error", message: this.exited });
      this.waiting = undefined;
    });
  }

  next(): Promise<From | WorkerError> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.exited) return Promise.resolve({ type: "error", message: this.exited });
    return new Promise((r) => (this.waiting = r));
  }

  async ask<T extends From["type"]>(type: T, msg?: To): Promise<Extract<From, { type: T }>> {
    if (msg) this.child.send(msg);
    const m = await this.next();
    if (m.type === "error") throw new Error((m as WorkerError).message);
    if (m.type !== type) throw new Error(`xlir worker: expected "${type}", got "${m.type}"`);
    return m as Extract<From, { type: T }>;
  }

  /** Close the channel, which lets the worker (and this process) exit. */
  close(): void {
    if (this.child.connected) this.child.disconnect();
  }

  /** Close the channel and stop the worker if it still runs. */
  kill(): void {
    this.close();
    if (this.child.exitCode === null) this.child.kill();
  }
}
