/**
 * The CPU cost of encryption at rest per record, in this process (no cluster, so a busy machine
 * moves it least): encoding a 500-record PutRecords batch with and without sealing each record
 * (AES-256-GCM under a data key, as the gateway does on the write path), and opening the records
 * of a sealed batch (the read path). Prints µs per record and records/s of one core per mode.
 *   node packages/cli/bench/bench-encryption.ts [--seconds 3] [--record-bytes 1024]
 * Run after `pnpm tsc -b`. The cluster-level figure is `./scripts/bench-streams --encrypted`.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { decodeRecordBatch, encodeRecordBatchOf } from "@sluice/broker";
import { dataKeyObject, openRecordData, RecordSealer } from "@sluice/gateway";

const BATCH_RECORDS = 500;
const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    "record-bytes": { type: "string", default: "1024" },
  },
});
const seconds = Number(values.seconds);
const recordBytes = Number(values["record-bytes"]);
if (!(seconds > 0) || !(recordBytes >= 0)) throw new Error("--seconds > 0 and --record-bytes >= 0");

const records = Array.from({ length: BATCH_RECORDS }, (_, i) => ({
  partitionKey: `key-${i}`,
  data: randomBytes(recordBytes),
  explicitHashKey: "",
}));
const positions = Int32Array.from(records.keys());
const key = dataKeyObject(randomBytes(32));
const sealer = new RecordSealer(key, 1);
const sealed = encodeRecordBatchOf(records, positions, 0, undefined, sealer);

/** Runs `work` (one batch) for `seconds` of CPU time; µs per record. */
function measure(work: () => void): number {
  for (let i = 0; i < 50; i++) work();
  const started = process.cpuUsage();
  let batches = 0;
  let used = 0;
  while (used < seconds * 1e6) {
    work();
    batches++;
    const cpu = process.cpuUsage(started);
    used = cpu.user + cpu.system;
  }
  return used / (batches * BATCH_RECORDS);
}

const rows = [
  ["encode, plaintext", measure(() => encodeRecordBatchOf(records, positions, 0))],
  ["encode + seal", measure(() => encodeRecordBatchOf(records, positions, 0, undefined, sealer))],
  [
    "decode, plaintext",
    measure(() => {
      for (const record of decodeRecordBatch(encodeRecordBatchOf(records, positions, 0)).records)
        void record.data;
    }),
  ],
  [
    "decode + open",
    measure(() => {
      for (const record of decodeRecordBatch(sealed).records) openRecordData(key, record.data);
    }),
  ],
] as const;
console.log(`${BATCH_RECORDS} records × ${recordBytes} B per batch, ${seconds} s of CPU per mode`);
console.log(`${"mode".padEnd(20)} ${"µs/record".padStart(10)} ${"records/s/core".padStart(15)}`);
for (const [mode, us] of rows) {
  console.log(
    `${mode.padEnd(20)} ${us.toFixed(2).padStart(10)} ${Math.round(1e6 / us)
      .toLocaleString("en-US")
      .padStart(15)}`,
  );
}
