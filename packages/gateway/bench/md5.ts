// The cost of hashing a partition key: node:crypto's one-shot MD5 against the gateway's JavaScript
// MD5 (src/md5.ts), on 65,536 distinct short keys ("pk-<n>-<random>", 15-23 ASCII characters,
// near the 16 of bench-streams' keys) and on 100-character keys. Prints ns per key, the median
// of five rounds of 1,000,000.
//   pnpm --filter @sluice/gateway bench:md5
import { hash } from "node:crypto";
import { md5 } from "../src/md5.ts";

const KEYS_COUNT = 65_536;
const CALLS_PER_ROUND = 1_000_000;
const ROUNDS = 5;

function keysOf(length: number | undefined): string[] {
  return Array.from({ length: KEYS_COUNT }, (_, i) => {
    const key = `pk-${i}-${Math.random().toString(36).slice(2)}`;
    // Flat strings, as a protobuf decode produces them.
    return Buffer.from(length === undefined ? key : key.padEnd(length, "k").slice(0, length)).toString();
  });
}

function nsPerKey(keys: readonly string[], digest: (key: string) => Buffer): number {
  const rounds: number[] = [];
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < CALLS_PER_ROUND; i++)
      sink += (digest(keys[i % KEYS_COUNT] as string)[0] as number) & 1;
    rounds.push(Number(process.hrtime.bigint() - started) / CALLS_PER_ROUND);
  }
  if (sink < 0) console.log(sink);
  return rounds.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)] as number;
}

console.log("partition key MD5, ns per key (median of 5 rounds of 1,000,000)");
for (const [label, length] of [
  ["short keys (15-23 chars)", undefined],
  ["100-char keys", 100],
] as const) {
  const keys = keysOf(length);
  const native = nsPerKey(keys, (key) => hash("md5", key, "buffer"));
  const script = nsPerKey(keys, md5);
  console.log(
    `  ${label}: node:crypto hash ${native.toFixed(0)}, md5.ts ${script.toFixed(0)} (${(native / script).toFixed(1)}x)`,
  );
}
