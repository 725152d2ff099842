/**
 * One run of the built `sluice` command, as an operator runs it: a child process whose exit
 * status and whole output the tests of the CLI check.
 */
import { spawn } from "node:child_process";
import { CLI_MAIN_PATH } from "./node-process.js";

/** How a `sluice` run ended: its exit status (null when a signal ended it) and its output. */
export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunOptions {
  /** Written to its standard input, which is then closed. @default "" */
  readonly stdin?: string;
  /** Its whole environment. @default this process's */
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs `sluice ARGS` and resolves once it exits. */
export function runCli(args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN_PATH, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: options.env ?? process.env,
    });
    let stdout = "";
    let stderr = "";
    // Decoded as a stream, so a character split between two chunks stays whole.
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}
