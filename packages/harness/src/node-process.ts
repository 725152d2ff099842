/**
 * One real `sluice node` process: spawned from the built CLI (packages/cli/dist/main.js), with
 * its stdout and stderr appended to a log file, stopped and killed with real signals.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LOG_TAIL_LINES } from "./constants.js";

/** The built CLI; the harness runs the same file an operator runs. */
export const CLI_MAIN_PATH = fileURLToPath(new URL("../../cli/dist/main.js", import.meta.url));

/** Throws a clear error when the CLI has not been built. */
export function assertCliBuilt(): void {
  if (!existsSync(CLI_MAIN_PATH)) {
    throw new Error(
      `${CLI_MAIN_PATH} is missing: the harness runs real node processes from the build; run \`pnpm tsc -b\` (./scripts/test does) first`,
    );
  }
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface NodeProcessOptions {
  readonly nodeId: number;
  /** Arguments after `sluice node`. */
  readonly args: readonly string[];
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Node.js and V8 flags placed before the CLI script, for flags NODE_OPTIONS refuses (such as
   * `--trace-gc` or `--initial-old-space-size`). @default none
   */
  readonly execArgv?: readonly string[];
}

export class NodeProcess {
  readonly nodeId: number;
  readonly logFile: string;
  readonly #options: NodeProcessOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<ExitStatus> | undefined;
  #lastExit: ExitStatus | undefined;

  constructor(options: NodeProcessOptions) {
    this.nodeId = options.nodeId;
    this.logFile = options.logFile;
    this.#options = options;
  }

  /**
   * Spawns the process; it must not be running. `extraEnv` is laid over the options' env for
   * this run only (a later `start()` without it runs with the options' env again).
   */
  start(extraEnv: NodeJS.ProcessEnv = {}): void {
    if (this.running) throw new Error(`node ${this.nodeId} is already running (pid ${this.pid})`);
    assertCliBuilt();
    const logFd = openSync(this.logFile, "a");
    try {
      const child = spawn(
        process.execPath,
        [...(this.#options.execArgv ?? []), CLI_MAIN_PATH, "node", ...this.#options.args],
        {
          stdio: ["ignore", logFd, logFd],
          env: { ...process.env, ...this.#options.env, ...extraEnv },
        },
      );
      this.#child = child;
      this.#lastExit = undefined;
      this.#exited = new Promise<ExitStatus>((resolve) => {
        child.once("exit", (code, signal) => {
          this.#lastExit = { code, signal };
          resolve({ code, signal });
        });
        child.once("error", () => {
          this.#lastExit = { code: null, signal: null };
          resolve({ code: null, signal: null });
        });
      });
    } finally {
      closeSync(logFd);
    }
  }

  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#lastExit === undefined;
  }

  /** How the last run ended, once it has. */
  get lastExit(): ExitStatus | undefined {
    return this.#lastExit;
  }

  /** Sends a signal and waits for the process to exit (SIGKILL never takes long). */
  async kill(signal: NodeJS.Signals = "SIGKILL", timeoutMs = 25_000): Promise<ExitStatus> {
    const exited = this.#exited;
    if (!this.running || exited === undefined) return this.#lastExit ?? { code: null, signal: null };
    this.#child?.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(resolve, timeoutMs, "timeout");
    });
    const outcome = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.#child?.kill("SIGKILL");
      await exited;
      throw new Error(
        `node ${this.nodeId} did not exit within ${timeoutMs} ms of ${signal}; killed. ${this.logTail()}`,
      );
    }
    return outcome;
  }

  /**
   * Sends a signal without waiting for anything: SIGSTOP freezes the process (a paused node:
   * sockets stay open, nothing answers), SIGCONT resumes it. Returns false when not running.
   */
  signal(signal: NodeJS.Signals): boolean {
    if (!this.running) return false;
    return this.#child?.kill(signal) ?? false;
  }

  /** Resolves when the current run exits. */
  async waitExit(): Promise<ExitStatus> {
    return (await this.#exited) ?? this.#lastExit ?? { code: null, signal: null };
  }

  /** The last lines of the node's log, for failure messages. */
  logTail(lines = LOG_TAIL_LINES): string {
    try {
      const text = readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
      return `last lines of ${this.logFile}:\n${text}`;
    } catch {
      return `(no log at ${this.logFile})`;
    }
  }
}

export interface NodeRunResult extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `sluice node …` to its end and captures its output; for configurations that must be
 * refused. A process still running after `timeoutMs` is killed and reported as such.
 */
export function runNodeToExit(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<NodeRunResult & { timedOut: boolean }> {
  assertCliBuilt();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN_PATH, "node", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 20_000);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
