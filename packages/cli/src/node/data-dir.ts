/**
 * The node's data directory: created when missing, proven writable by creating a file in it,
 * and stamped at first start with the identity of the node that owns it (node id and cluster
 * id, in `node-identity.json`), so that a node pointed at another node's directory refuses to
 * start instead of joining the cluster with someone else's log.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { StartupError, StartupErrorCode } from "./errors.js";

export const IDENTITY_FILE_NAME = "node-identity.json";

export interface NodeIdentity {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly createdAtMs: number;
}

/** Makes sure `dir` exists and is writable, and that it belongs to this node; stamps it if new. */
export function prepareDataDir(dir: string, nodeId: number, clusterId: string, nowMs: number): NodeIdentity {
  try {
    mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.write-probe-${process.pid}`);
    const fd = openSync(probe, "w");
    closeSync(fd);
    rmSync(probe);
  } catch (error) {
    throw new StartupError(
      StartupErrorCode.DataDirNotWritable,
      `data directory ${dir} is not writable (${describeFsError(error)}); fix its permissions or choose another with --data`,
      { cause: error },
    );
  }
  const path = join(dir, IDENTITY_FILE_NAME);
  const existing = readIdentity(path);
  if (existing !== undefined) {
    if (existing.nodeId !== nodeId || existing.clusterId !== clusterId) {
      throw new StartupError(
        StartupErrorCode.DataDirForeign,
        `data directory ${dir} belongs to node ${existing.nodeId} of cluster "${existing.clusterId}", not node ${nodeId} of cluster "${clusterId}"; point --data at this node's own directory`,
      );
    }
    return existing;
  }
  const identity: NodeIdentity = { nodeId, clusterId, createdAtMs: nowMs };
  writeFileDurably(path, `${JSON.stringify(identity)}\n`);
  return identity;
}

function readIdentity(path: string): NodeIdentity | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StartupError(
      StartupErrorCode.DataDirNotWritable,
      `cannot read ${path} (${describeFsError(error)})`,
      { cause: error },
    );
  }
  try {
    const parsed = JSON.parse(text) as Partial<NodeIdentity>;
    if (typeof parsed.nodeId === "number" && typeof parsed.clusterId === "string") {
      return {
        nodeId: parsed.nodeId,
        clusterId: parsed.clusterId,
        createdAtMs: Number(parsed.createdAtMs ?? 0),
      };
    }
  } catch {
    // falls through to the error below
  }
  throw new StartupError(
    StartupErrorCode.DataDirForeign,
    `${path} is damaged; it names the node that owns this data directory (remove it only if you are sure the directory is this node's)`,
  );
}

/** Writes through a temporary file, syncs it, renames it into place and syncs the directory. */
function writeFileDurably(path: string, text: string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const dirFd = openSync(join(path, ".."), "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "a part of the path is a file, not a directory";
    case "EEXIST":
      return "a file of that name exists";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
      return "no space left on device";
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}
