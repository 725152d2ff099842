// A consumer-group worker process for groups-*.test.ts: runs one ConsumerGroup member and prints
// one JSON line per event on stdout — a processed batch {ev:"rec", s, d: [data], t}, a finished
// shard {ev:"end", s, t}, an error {ev:"err", code} — so the test can SIGKILL it and still know
// what it processed. SIGTERM stops it gracefully (checkpoint and leave).
// Arguments: endpoints (comma-separated) stream group memberId sessionTimeoutMs
import { ConsumerGroup, TRIM_HORIZON } from "../../client/dist/group/index.js";

const [endpoints, streamName, groupName, memberId, sessionTimeoutMs] = process.argv.slice(2);
const emit = (event) => process.stdout.write(`${JSON.stringify({ ...event, m: memberId, t: Date.now() })}\n`);
const group = new ConsumerGroup({
  endpoints: endpoints.split(","),
  streamName,
  groupName,
  memberId,
  sessionTimeoutMs: Number(sessionTimeoutMs),
  onError: (error) => emit({ ev: "err", code: error?.code ?? String(error) }),
});
const ended = new Set();
await group.run(
  async (records, context) => {
    emit({ ev: "rec", s: context.shardId, e: context.leaseEpoch, d: records.map((r) => r.data.toString()) });
    await context.checkpoint();
  },
  { start: TRIM_HORIZON },
);
emit({ ev: "joined" });
// Finished shards show up as shards no longer processed after a SHARD_END; the cluster's
// DescribeGroup is the test's source for those, so nothing more to print here.
void ended;
process.on("SIGTERM", () => {
  void group.stop().then(() => {
    emit({ ev: "stopped" });
    process.exit(0);
  });
});
