// Proves the pieces of encryption at rest without a cluster: the key file's two formats and its
// refusals, KeyId resolution, data-key wrap/unwrap (a different master key or a damaged wrap is a
// typed error), per-record sealing inside real record batches (round trip, unique nonces, flags and
// key version in the header, throughput counted on the plaintext, a tampered byte refused), and
// the metadata command that keeps a stream's wrapped data keys (refusals, snapshot round trip).
import { randomBytes } from "node:crypto";
import {
  decodeRecordBatch,
  decodeRecordBatchHeader,
  encodeRecordBatchOf,
  RECORD_BATCH_FLAG_ENCRYPTED,
  RECORD_BATCH_FLAG_PRODUCER,
  RECORD_DATA_SEAL_OVERHEAD_BYTES,
  recordBatchPayloadBytes,
  recordBatchPrefix,
  recordBatchProducer,
} from "@sluice/broker";
import {
  applyCommand,
  decodeSnapshot,
  emptyState,
  encodeSnapshot,
  type MetadataState,
  type StreamInfo,
} from "@sluice/metadata";
import { describe, expect, it } from "vitest";
import {
  dataKeyObject,
  KeyFileError,
  KmsKeyUnavailableError,
  KmsNotFoundError,
  MasterKeys,
  openRecordData,
  parseKeyFile,
  RecordDecryptionError,
  RecordSealer,
  StreamKeys,
} from "../src/index.js";

const HEX_A = "11".repeat(32);
const HEX_B = "22".repeat(32);

function masterKeys(text = `alpha: ${HEX_A}\nbeta: ${HEX_B}\n`): MasterKeys {
  return new MasterKeys(parseKeyFile(text, "test keys"));
}

describe("key file", () => {
  it("reads lines (hex or base64, comments, = or :) and JSON with a default", () => {
    const lines = parseKeyFile(
      `# keys\n\nalpha: ${HEX_A}\nbeta = ${Buffer.from(HEX_B, "hex").toString("base64")}\n`,
      "f",
    );
    expect([...lines.keys.keys()]).toEqual(["alpha", "beta"]);
    expect(lines.keys.get("beta")?.toString("hex")).toBe(HEX_B);
    expect(lines.defaultKeyId).toBe("alpha");
    const json = parseKeyFile(JSON.stringify({ keys: { alpha: HEX_A, beta: HEX_B }, default: "beta" }), "f");
    expect(json.defaultKeyId).toBe("beta");
    expect(parseKeyFile(JSON.stringify({ gamma: HEX_A }), "f").defaultKeyId).toBe("gamma");
  });

  it("refuses bad files with a KeyFileError that names the place", () => {
    const bad = [
      "",
      "alpha",
      `alpha: ${"1".repeat(63)}`,
      `alpha: ${HEX_A}\nalpha: ${HEX_B}`,
      `bad/id: ${HEX_A}`,
      JSON.stringify({ keys: { alpha: HEX_A }, default: "zeta" }),
      "{not json",
    ];
    for (const text of bad) {
      expect(() => parseKeyFile(text, "keys.txt"), text).toThrow(KeyFileError);
    }
    expect(() => parseKeyFile(`alpha: ${HEX_A}\nbeta: short`, "keys.txt")).toThrow(/keys.txt line 2/);
  });
});

describe("master keys", () => {
  it("resolves ids, ARNs, aliases and alias/aws/kinesis; refuses unknown ids", () => {
    const keys = masterKeys();
    expect(keys.resolve("beta")).toBe("beta");
    expect(keys.resolve("alias/aws/kinesis")).toBe("alpha");
    expect(keys.resolve("arn:aws:kms:us-east-1:000000000000:alias/aws/kinesis")).toBe("alpha");
    expect(keys.resolve("arn:aws:kms:us-east-1:000000000000:key/beta")).toBe("beta");
    expect(keys.resolve("alias/beta")).toBe("beta");
    expect(() => keys.resolve("gamma")).toThrow(KmsNotFoundError);
  });

  it("wraps and unwraps a data key; another key file or a damaged wrap is refused", () => {
    const keys = masterKeys();
    const dataKey = randomBytes(32);
    const wrapped = keys.wrap(dataKey, "alpha");
    expect(keys.unwrap(wrapped, "alpha").equals(dataKey)).toBe(true);
    // Under another id the additional data differs: refused even where the key bytes would match.
    expect(() => masterKeys(`alpha: ${HEX_B}`).unwrap(wrapped, "alpha")).toThrow(RecordDecryptionError);
    const damaged = Buffer.from(wrapped, "base64");
    damaged[20] = (damaged[20] as number) ^ 1;
    expect(() => keys.unwrap(damaged.toString("base64"), "alpha")).toThrow(RecordDecryptionError);
    expect(() => masterKeys(`beta: ${HEX_B}`).unwrap(wrapped, "alpha")).toThrow(KmsKeyUnavailableError);
  });
});

describe("sealed record batches", () => {
  const records = [
    { partitionKey: "k1", data: Buffer.from("secret-marker-1"), explicitHashKey: "" },
    { partitionKey: "k2", data: Buffer.alloc(0), explicitHashKey: "42" },
    { partitionKey: "k3", data: randomBytes(1000), explicitHashKey: "" },
  ];
  const positions = [0, 1, 2];

  it("round-trips every record, marks the header and counts throughput on the plaintext", () => {
    const key = dataKeyObject(randomBytes(32));
    const batch = encodeRecordBatchOf(records, positions, 0, undefined, new RecordSealer(key, 7));
    const header = decodeRecordBatchHeader(batch);
    expect(header.flags).toBe(RECORD_BATCH_FLAG_ENCRYPTED);
    expect(header.keyVersion).toBe(7);
    expect(batch.includes(Buffer.from("secret-marker-1"))).toBe(false);
    const decoded = decodeRecordBatch(batch).records;
    expect(decoded.map((r) => r.keyVersion)).toEqual([7, 7, 7]);
    expect(decoded.map((r) => r.data.length)).toEqual(
      records.map((r) => r.data.length + RECORD_DATA_SEAL_OVERHEAD_BYTES),
    );
    expect(decoded.map((r) => openRecordData(key, r.data))).toEqual(records.map((r) => r.data));
    expect(decoded.map((r) => r.explicitHashKey)).toEqual([undefined, "42", undefined]);
    expect([...recordBatchPayloadBytes(batch)]).toEqual(records.map((r) => r.data.length + 2));
    const prefix = recordBatchPrefix(batch, 2);
    expect(decodeRecordBatch(prefix).records.map((r) => openRecordData(key, r.data))).toEqual([
      records[0]?.data,
      records[1]?.data,
    ]);
  });

  it("keeps the producer trailer readable in an encrypted producer batch", () => {
    const key = dataKeyObject(randomBytes(32));
    const producer = { producerId: Buffer.from("12345678"), firstSequence: 9 };
    const batch = encodeRecordBatchOf(records, positions, 0, producer, new RecordSealer(key, 1));
    expect(decodeRecordBatchHeader(batch).flags).toBe(
      RECORD_BATCH_FLAG_ENCRYPTED | RECORD_BATCH_FLAG_PRODUCER,
    );
    expect(recordBatchProducer(batch)?.firstSequence).toBe(9);
    expect(decodeRecordBatch(batch).records.map((r) => openRecordData(key, r.data))).toEqual(
      records.map((r) => r.data),
    );
  });

  it("never repeats a nonce within a sealer", () => {
    const sealer = new RecordSealer(dataKeyObject(randomBytes(32)), 1);
    const nonces = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const out = Buffer.alloc(RECORD_DATA_SEAL_OVERHEAD_BYTES + 1);
      sealer.sealInto(Buffer.from("x"), out, 0);
      nonces.add(out.subarray(0, 12).toString("hex"));
    }
    expect(nonces.size).toBe(2_000);
  });

  it("refuses a tampered byte, a truncated record, and another key", () => {
    const key = dataKeyObject(randomBytes(32));
    const batch = encodeRecordBatchOf(records, positions, 0, undefined, new RecordSealer(key, 1));
    const sealed = Buffer.from((decodeRecordBatch(batch).records[0] as { data: Buffer }).data);
    for (const at of [0, 12, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[at] = (tampered[at] as number) ^ 0x80;
      expect(() => openRecordData(key, tampered)).toThrow(RecordDecryptionError);
    }
    expect(() => openRecordData(key, sealed.subarray(0, 20))).toThrow(RecordDecryptionError);
    expect(() => openRecordData(dataKeyObject(randomBytes(32)), sealed)).toThrow(RecordDecryptionError);
  });
});

function ok(state: MetadataState, command: unknown): MetadataState {
  const outcome = applyCommand(state, command);
  if (!outcome.result.ok) throw new Error(`${outcome.result.code}: ${outcome.result.message}`);
  return outcome.state;
}

function activeStream(): MetadataState {
  let state = ok(emptyState(), { type: "InitCluster", secretHex: "ab".repeat(32) });
  for (const [nodeId, zone] of [
    [1, "a"],
    [2, "b"],
    [3, "c"],
  ] as const) {
    state = ok(state, {
      type: "RegisterNode",
      node: { nodeId, zone, peerAddress: `n${nodeId}:1`, gatewayAddress: `n${nodeId}:2` },
    });
  }
  state = ok(state, { type: "CreateStream", streamName: "s", shardCount: 1, mode: "ON_DEMAND", nowMs: 1 });
  const streamId = (state.streams.get("s") as StreamInfo).streamId;
  return ok(state, { type: "SetStreamStatus", streamName: "s", streamId, from: "CREATING", to: "ACTIVE" });
}

describe("SetStreamEncryption and the stream's data keys", () => {
  it("adds versions, stops without dropping keys, survives a snapshot, and opens every version", () => {
    const keys = masterKeys();
    const streamKeys = new StreamKeys({ masterKeys: keys, metadata: { view: () => ({}) as never } });
    let state = activeStream();
    const first = streamKeys.newDataKey("alias/aws/kinesis");
    state = ok(state, {
      type: "SetStreamEncryption",
      streamName: "s",
      enable: true,
      keyId: "alias/aws/kinesis",
      ...first,
    });
    const v1 = state.streams.get("s") as StreamInfo;
    expect(v1.encryption).toEqual({ keyId: "alias/aws/kinesis", keyVersion: 1 });
    const sealedV1 = encodeRecordBatchOf(
      [{ partitionKey: "k", data: Buffer.from("one") }],
      [0],
      0,
      undefined,
      streamKeys.sealerFor(v1),
    );
    state = ok(state, {
      type: "SetStreamEncryption",
      streamName: "s",
      enable: true,
      keyId: "beta",
      ...streamKeys.newDataKey("beta"),
    });
    state = ok(state, { type: "SetStreamEncryption", streamName: "s", enable: false });
    const stopped = state.streams.get("s") as StreamInfo;
    expect(stopped.encryption).toBeUndefined();
    expect(stopped.dataKeys?.map((k) => [k.version, k.masterKeyId])).toEqual([
      [1, "alpha"],
      [2, "beta"],
    ]);
    expect(streamKeys.sealerFor(stopped)).toBeUndefined();
    const restored = decodeSnapshot(encodeSnapshot(state));
    expect(Buffer.from(encodeSnapshot(restored)).equals(Buffer.from(encodeSnapshot(state)))).toBe(true);
    // A node that starts from the snapshot (a fresh cache) still opens version 1.
    const fresh = new StreamKeys({ masterKeys: keys, metadata: { view: () => ({}) as never } });
    const record = decodeRecordBatch(sealedV1).records[0] as { data: Buffer; keyVersion: number };
    expect(
      fresh.open(restored.streams.get("s") as StreamInfo, record.keyVersion, record.data).toString(),
    ).toBe("one");
    // Without a key file: a typed error, for writes and reads alike.
    const none = new StreamKeys({ metadata: { view: () => ({}) as never } });
    expect(() => none.sealerFor(v1)).toThrow(KmsKeyUnavailableError);
    expect(() => none.open(v1, 1, record.data)).toThrow(KmsKeyUnavailableError);
  });

  it("refuses a stream that is not ACTIVE and malformed keys, changing nothing", () => {
    const state = activeStream();
    const wrapped = masterKeys().wrap(randomBytes(32), "alpha");
    const streamId = (state.streams.get("s") as StreamInfo).streamId;
    const updating = ok(state, {
      type: "SetStreamStatus",
      streamName: "s",
      streamId,
      from: "ACTIVE",
      to: "UPDATING",
    });
    const cases: Array<[MetadataState, unknown, string]> = [
      [updating, { enable: true, keyId: "k", masterKeyId: "alpha", wrappedKey: wrapped }, "STREAM_IN_USE"],
      [state, { enable: true, keyId: "", masterKeyId: "alpha", wrappedKey: wrapped }, "INVALID_ARGUMENT"],
      [
        state,
        { enable: true, keyId: "k", masterKeyId: "alpha", wrappedKey: "not base64!" },
        "INVALID_ARGUMENT",
      ],
      [state, { enable: "yes" }, "INVALID_ARGUMENT"],
    ];
    for (const [from, fields, code] of cases) {
      const outcome = applyCommand(from, {
        type: "SetStreamEncryption",
        streamName: "s",
        ...(fields as object),
      });
      expect(outcome.result.ok ? "OK" : outcome.result.code).toBe(code);
      expect(outcome.state).toBe(from);
    }
    const missing = applyCommand(state, { type: "SetStreamEncryption", streamName: "nope", enable: false });
    expect(missing.result.ok ? "OK" : missing.result.code).toBe("STREAM_NOT_FOUND");
  });
});
