// Starts Apertium's APY server (Debian's apertium-apy) as a child process, for tests and for
// commands that need Apertium without a server the user runs.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export const DEFAULT_APERTIUM_MODES_DIR = "/usr/share/apertium/modes";

export interface StartApertiumOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) lets the system pick a free port. */
  port?: number;
  /** The folder of installed pairs' .mode files. Default /usr/share/apertium/modes. */
  modesDir?: string;
  /** The apertium-apy script. Default: apertium-apy on PATH, else /usr/bin/apertium-apy. */
  executable?: string;
  /** How long to wait for /listPairs to answer. Default 30000. */
  startTimeoutMs?: number;
}

export interface ApertiumServer {
  url: string;
  pid: number;
  /** Ends APY (SIGTERM, then SIGKILL) and resolves once the process is gone. */
  stop(): Promise<void>;
}

// APY has no option for the listening address and binds every interface; this wrapper binds
// `host` instead and prints the port it got, so port 0 works without a probe-then-bind race.
const SHIM = `
import sys
import tornado.netutil, tornado.tcpserver
host = sys.argv.pop(1)
def bind(self, port, address=None, *args, **kwargs):
    socks = tornado.netutil.bind_sockets(port, host)
    self.add_sockets(socks)
    print("xlir-apy-port %d" % socks[0].getsockname()[1], flush=True)
tornado.tcpserver.TCPServer.bind = bind
from apertium_apy.apy import main
sys.argv[0] = "apertium-apy"
main()
`;

const INSTALL_HINT = "apt-get install apertium-apy apertium-eng-spa";

export function findApertiumApy(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && isFile(join(dir, "apertium-apy"))) return join(dir, "apertium-apy");
  }
  return isFile("/usr/bin/apertium-apy") ? "/usr/bin/apertium-apy" : undefined;
}

export async function startApertium(opts: StartApertiumOptions = {}): Promise<ApertiumServer> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? 0;
  const modesDir = opts.modesDir ?? DEFAULT_APERTIUM_MODES_DIR;
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`apertium: port ${port} is not a TCP port (0-65535)`);
  }
  const exe = opts.executable ?? findApertiumApy();
  if (exe === undefined || !isFile(exe)) {
    throw new Error(
      `apertium: apertium-apy not found${exe ? ` at ${exe}` : " on PATH"}: install it (${INSTALL_HINT})`,
    );
  }
  const modes = existsSync(modesDir) ? readdirSync(modesDir).filter((f) => f.endsWith(".mode")) : [];
  if (modes.length === 0) {
    throw new Error(
      `apertium: no Apertium pairs in ${modesDir}: install one, e.g. apt-get install apertium-eng-spa`,
    );
  }
  // Run the script's own interpreter (its shebang): another python3 on PATH lacks APY's modules.
  const interpreter = shebangOf(exe);
  if (interpreter === undefined) {
    throw new Error(`apertium: ${exe} is not a Python script with a #! line: give apertium-apy's path`);
  }
  const env = { ...process.env };
  // APY refuses to start without a UTF-8 locale.
  if (!/utf-?8/i.test(`${env.LC_ALL ?? ""} ${env.LANG ?? ""}`)) env.LC_ALL = "C.UTF-8";

  const child = spawn(
    interpreter[0],
    [...interpreter.slice(1), "-c", SHIM, host, "-p", String(port), modesDir],
    {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString("utf8")).slice(-4000);
  };
  child.stderr!.on("data", keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    child.once("error", (e) => resolve(e.message));
  });
  const cleanup = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
      child.kill("SIGKILL");
  };
  process.once("exit", cleanup);

  const stop = async () => {
    process.removeListener("exit", cleanup);
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    child.kill("SIGTERM");
    if ((await within(exited, 5000)) === timedOut) {
      child.kill("SIGKILL");
      await within(exited, 5000);
    }
  };

  try {
    const boundPort = await within(
      Promise.race([portFrom(child), exited.then((why) => Promise.reject(new Error(`exited (${why})`)))]),
      timeoutMs,
    );
    if (boundPort === timedOut) throw new Error(`did not listen within ${timeoutMs} ms`);
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${await exited})`);
      try {
        const res = await fetch(`${url}/listPairs`, { signal: AbortSignal.timeout(2000) });
        await res.text();
        if (res.ok) break;
      } catch {
        // Not answering yet.
      }
      if (Date.now() > deadline) throw new Error(`${url}/listPairs did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.stdout!.resume();
    return { url, pid: child.pid!, stop };
  } catch (e) {
    await stop();
    const tail = log.trim().split("\n").slice(-3).join(" | ");
    throw new Error(
      `apertium: APY (${exe} ${modesDir}) failed to start: ${(e as Error).message}${tail ? `; its log: ${tail}` : ""}`,
      { cause: e },
    );
  }
}

const timedOut = Symbol("timed out");

async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof timedOut> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof timedOut>((r) => (timer = setTimeout(() => r(timedOut), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

function portFrom(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    let buf = "";
    const onData = (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      const m = /xlir-apy-port (\d+)/.exec(buf);
      if (m) {
        child.stdout!.removeListener("data", onData);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on("data", onData);
  });
}

function shebangOf(path: string): string[] | undefined {
  const head = readFileSync(path).subarray(0, 256).toString("utf8").split("\n")[0];
  if (!head.startsWith("#!")) return undefined;
  const parts = head.slice(2).trim().split(/\s+/);
  return parts[0] ? parts : undefined;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
