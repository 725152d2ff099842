/**
 * The data keys of encrypted streams on this node: makes a stream's new data key (wrapped by a
 * master key, for the metadata), and hands the write path a sealer and the read path the
 * plaintext for the key version a batch names. Unwrapped keys live in memory only, unwrapped on
 * first use from the stream's `dataKeys` in the metadata view, at most DATA_KEYS_CACHED_MAX.
 *
 * Cost when a stream is not encrypted: `sealerFor` reads one field and returns undefined; reads of
 * plaintext records never call here.
 */

import type { KeyObject } from "node:crypto";
import { randomBytes } from "node:crypto";
import type { MetadataService, StreamInfo } from "@sluice/metadata";
import { InternalFailureError } from "../errors.js";
import { AES_KEY_BYTES, DATA_KEYS_CACHED_MAX } from "./constants.js";
import { KmsKeyUnavailableError } from "./errors.js";
import type { MasterKeys } from "./master-keys.js";
import { dataKeyObject, openRecordData, RecordSealer } from "./record-cipher.js";

export interface StreamKeysOptions {
  /** This node's master keys (its key file). @default none: encrypted streams are refused here */
  readonly masterKeys?: MasterKeys | undefined;
  /** Where a key version newer than a reader's stream view is looked up. */
  readonly metadata: Pick<MetadataService, "view">;
}

/** A stream's new data key, wrapped for the metadata (SetStreamEncryption). */
export interface WrappedDataKey {
  readonly masterKeyId: string;
  readonly wrappedKey: string;
}

interface CachedKey {
  readonly key: KeyObject;
  sealer: RecordSealer | undefined;
}

export class StreamKeys {
  private readonly options: StreamKeysOptions;
  /** By `${streamId}:${version}`. */
  private readonly cache = new Map<string, CachedKey>();

  constructor(options: StreamKeysOptions) {
    this.options = options;
  }

  /** Whether this node has a key file. */
  get configured(): boolean {
    return this.options.masterKeys !== undefined;
  }

  /**
   * A fresh data key wrapped by the master key `keyId` names (StartStreamEncryption).
   * KmsKeyUnavailableError without a key file; KmsNotFoundError when `keyId` names no key.
   */
  newDataKey(keyId: string): WrappedDataKey {
    const masterKeys = this.masterKeys();
    const masterKeyId = masterKeys.resolve(keyId);
    const dataKey = randomBytes(AES_KEY_BYTES);
    try {
      return { masterKeyId, wrappedKey: masterKeys.wrap(dataKey, masterKeyId) };
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * The sealer for a write to `stream`: undefined when its new records are plaintext, else one
   * sealer per stream and key version (KmsKeyUnavailableError when this node cannot unwrap it).
   */
  sealerFor(stream: StreamInfo): RecordSealer | undefined {
    const encryption = stream.encryption;
    if (encryption === undefined) return undefined;
    const cached = this.cached(stream, encryption.keyVersion);
    if (cached.sealer === undefined) cached.sealer = new RecordSealer(cached.key, encryption.keyVersion);
    return cached.sealer;
  }

  /**
   * The plaintext of a record of `stream` sealed under `keyVersion` (a new buffer).
   * KmsKeyUnavailableError when this node cannot unwrap the key; RecordDecryptionError when the
   * record does not authenticate.
   */
  open(stream: StreamInfo, keyVersion: number, sealed: Uint8Array): Buffer {
    return openRecordData(this.cached(stream, keyVersion).key, sealed);
  }

  private cached(stream: StreamInfo, version: number): CachedKey {
    const id = `${stream.streamId}:${version}`;
    const found = this.cache.get(id);
    if (found !== undefined) return found;
    const masterKeys = this.masterKeys(stream);
    const dataKey = dataKeyOf(stream, version) ?? this.freshDataKey(stream, version);
    if (dataKey === undefined) {
      throw new InternalFailureError(
        `stream ${stream.streamName} has no data key version ${version} in this node's metadata yet; retry`,
        { retriable: true },
      );
    }
    const raw = masterKeys.unwrap(dataKey.wrappedKey, dataKey.masterKeyId);
    const entry: CachedKey = { key: dataKeyObject(raw), sealer: undefined };
    raw.fill(0);
    if (this.cache.size >= DATA_KEYS_CACHED_MAX) this.cache.clear();
    this.cache.set(id, entry);
    return entry;
  }

  /** The data key from the node's current view, for a reader whose stream view is older. */
  private freshDataKey(stream: StreamInfo, version: number): StreamDataKeyLike | undefined {
    const fresh = this.options.metadata.view().stream(stream.streamName);
    return fresh === undefined || fresh.streamId !== stream.streamId ? undefined : dataKeyOf(fresh, version);
  }

  private masterKeys(stream?: StreamInfo): MasterKeys {
    const masterKeys = this.options.masterKeys;
    if (masterKeys === undefined) {
      throw new KmsKeyUnavailableError(
        stream === undefined
          ? "this node has no key file: start every node with --kms-key-file (SLUICE_KMS_KEY_FILE) to encrypt streams"
          : `stream ${stream.streamName} is encrypted and this node has no key file: start it with the same --kms-key-file (SLUICE_KMS_KEY_FILE) as the others`,
      );
    }
    return masterKeys;
  }
}

interface StreamDataKeyLike {
  readonly masterKeyId: string;
  readonly wrappedKey: string;
}

/** Versions are 1, 2, … in order, so version v is at v − 1. */
function dataKeyOf(stream: StreamInfo, version: number): StreamDataKeyLike | undefined {
  const key = stream.dataKeys?.[version - 1];
  return key !== undefined && key.version === version ? key : undefined;
}
