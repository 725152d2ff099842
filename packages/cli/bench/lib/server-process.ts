/**
 * A server process the bench starts (an emulator, the null endpoint, a nats-server): spawned with
 * its output kept in memory for the error message, stopped with SIGTERM, then SIGKILL when it does
 * not exit within SERVER_STOP_TIMEOUT_MS.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { type WaitOptions, waitFor } from "@sluice/harness";
import { SERVER_STOP_TIMEOUT_MS } from "./constants.ts";

/** The last bytes of a server's output kept for error messages. */
const OUTPUT_TAIL_BYTES = 4_096;

/** Servers still running: killed when the bench exits, however it exits, so none outlives it. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export class ServerProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #output = "";

  constructor(
    name: string,
    command: string,
    args: readonly string[],
    options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {},
  ) {
    this.name = name;
    this.#child = spawn(command, args, {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_TAIL_BYTES);
    };
    this.#child.stdout?.on("data", keep);
    this.#child.stderr?.on("data", keep);
    running.add(this.#child);
    this.#exited = new Promise((resolve) => {
      this.#child.once("exit", () => {
        running.delete(this.#child);
        resolve();
      });
      this.#child.once("error", (error) => {
        this.#output += `\n${error.message}`;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  /** The exit code once it exited (a signal counts as -1), else undefined. */
  get exitCode(): number | undefined {
    if (this.#child.exitCode !== null) return this.#child.exitCode;
    return this.#child.signalCode === null ? undefined : -1;
  }

  /** Throws, with the process's last output, when it has exited: call while waiting for it to serve. */
  assertRunning(): void {
    if (this.exitCode !== undefined || this.pid === 0) {
      throw new Error(`${this.name} exited (${this.exitCode ?? "not started"}): ${this.#output.trim()}`);
    }
  }

  async stop(): Promise<void> {
    if (this.exitCode !== undefined || this.pid === 0) return;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), SERVER_STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }
}

/**
 * `waitFor(condition)` that gives up at once when one of `servers` exits, with that server's
 * output as the error (waitFor alone would retry a thrown error until its deadline).
 */
export async function waitWhileRunning<T>(
  servers: readonly ServerProcess[],
  condition: () => Promise<T | undefined | null | false>,
  options: WaitOptions,
): Promise<T> {
  const outcome = await waitFor(async (): Promise<{ readonly value: T } | "exited" | undefined> => {
    if (servers.some((server) => server.exitCode !== undefined)) return "exited";
    const value = await condition();
    return value === undefined || value === null || value === false ? undefined : { value };
  }, options);
  if (outcome === "exited") {
    for (const server of servers) server.assertRunning();
    throw new Error("a server exited");
  }
  return outcome.value;
}
