/**
 * Files in a directory. Each object is written to `<name>.tmp-<random>`, synced, then renamed
 * to its key (and the folder synced), so a reader never sees half a file; a rename over an existing file (a retried
 * batch) replaces it whole. The per-shard intent goes the same way, before the object.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { batchBody, batchKey, type DeliveryBatch, errorDocument } from "./batch.js";
import { INTENTS_FOLDER } from "./constants.js";
import type { DeliveryStreamDefinition } from "./definition.js";
import type { Destination, PendingBatch } from "./destination.js";
import { DestinationError } from "./errors.js";

export class FileDestination implements Destination {
  private readonly directory: string;
  private readonly prefix: string;
  private readonly errorPrefix: string;

  constructor(private readonly definition: DeliveryStreamDefinition) {
    if (definition.destination.kind !== "files")
      throw new TypeError("FileDestination needs a files destination");
    this.directory = definition.destination.directory;
    this.prefix = definition.destination.prefix;
    this.errorPrefix = definition.destination.errorPrefix;
  }

  private intentPath(shardId: string): string {
    return join(this.directory, INTENTS_FOLDER, this.definition.name, `${shardId}.json`);
  }

  async pendingBatch(shardId: string): Promise<PendingBatch | undefined> {
    try {
      return JSON.parse(await readFile(this.intentPath(shardId), "utf8")) as PendingBatch;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new DestinationError(`reading the intent of shard ${shardId}: ${String(error)}`, {
        permanent: false,
        cause: error,
      });
    }
  }

  async announce(batch: DeliveryBatch): Promise<void> {
    const intent: PendingBatch = {
      firstSequenceNumber: batch.firstSequenceNumber,
      lastSequenceNumber: batch.lastSequenceNumber,
    };
    await this.writeAtomically(this.intentPath(batch.shardId), Buffer.from(JSON.stringify(intent)));
  }

  async deliver(batch: DeliveryBatch): Promise<void> {
    const key = batchKey(this.definition, batch, this.prefix);
    await this.writeAtomically(join(this.directory, key), batchBody(batch, this.definition.compression));
  }

  async deliverFailed(batch: DeliveryBatch, reason: string): Promise<void> {
    const key = batchKey(this.definition, batch, this.errorPrefix);
    await this.writeAtomically(join(this.directory, key), batchBody(batch, this.definition.compression));
    await this.writeAtomically(
      join(this.directory, `${key}.error.json`),
      errorDocument(this.definition, batch, reason),
    );
  }

  async close(): Promise<void> {}

  private async writeAtomically(path: string, body: Buffer): Promise<void> {
    const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
    try {
      await mkdir(dirname(path), { recursive: true });
      const handle = await open(temporary, "w");
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path);
      // The rename itself survives a power loss only once the folder is synced.
      const folder = await open(dirname(path), "r");
      try {
        await folder.sync();
      } finally {
        await folder.close();
      }
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => {});
      throw new DestinationError(`writing ${path}: ${String(error)}`, { permanent: false, cause: error });
    }
  }
}
