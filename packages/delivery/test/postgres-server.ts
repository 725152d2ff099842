/**
 * A throwaway PostgreSQL server for tests, from Debian's packages (`.ci/run` installs
 * `postgresql`): initdb into a temporary folder, pg_ctl start/stop on a loopback port. As root
 * (CI), the server runs as the `postgres` user, which PostgreSQL requires.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const dir = join(root, version, "bin");
    if (existsSync(join(dir, "pg_ctl"))) return dir;
  }
  return undefined;
}

export const POSTGRES_AVAILABLE = binDir() !== undefined;

export class PostgresServer {
  readonly directory: string;
  private readonly bin: string;

  constructor(readonly port: number) {
    const bin = binDir();
    if (bin === undefined) throw new Error("PostgreSQL is not installed; apt-get install postgresql");
    this.bin = bin;
    this.directory = mkdtempSync(join(tmpdir(), "sluice-delivery-pg-"));
    chmodSync(this.directory, 0o777);
    this.run("initdb", ["-D", this.dataDir, "-A", "trust", "-U", "postgres", "--no-sync"]);
  }

  get connectionString(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get dataDir(): string {
    return join(this.directory, "data");
  }

  start(): void {
    this.run("pg_ctl", [
      "-D",
      this.dataDir,
      "-o",
      `-p ${this.port} -k ${this.directory} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "-l",
      join(this.directory, "server.log"),
      "-w",
      "start",
    ]);
  }

  stop(): void {
    this.run("pg_ctl", ["-D", this.dataDir, "-m", "fast", "-w", "stop"]);
  }

  destroy(): void {
    try {
      this.stop();
    } catch {
      // Already stopped.
    }
    rmSync(this.directory, { recursive: true, force: true });
  }

  private run(program: string, args: readonly string[]): void {
    const path = join(this.bin, program);
    if (process.getuid?.() === 0) {
      execFileSync("runuser", ["-u", "postgres", "--", path, ...args], { stdio: "pipe" });
    } else {
      execFileSync(path, args, { stdio: "pipe" });
    }
  }
}
