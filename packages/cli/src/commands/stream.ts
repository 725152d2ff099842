/**
 * `sluice stream create|describe|list|delete|split|merge|scale|retention`: the control plane of
 * streams through @sluice/client. Commands that change a stream wait until it is ACTIVE again
 * (unless --no-wait), so a script's next command sees the result.
 */
import { type SluiceClient, streamsProto } from "./client-proto.js";
import {
  COMMON_OPTIONS_HELP,
  createClient,
  EXIT_CODES_HELP,
  EXIT_OK,
  type Io,
  isoTime,
  parse,
  positiveInteger,
  printJson,
  printTable,
  processIo,
  reportError,
  UsageError,
} from "./common.js";

export const STREAM_HELP = `usage: sluice stream <action> [options]

actions:
  create NAME [--shards N] [--on-demand]   create a stream (4 shards by default) and wait until ACTIVE
  describe NAME                            status, mode, retention and every shard
  list                                     every stream with its status
  delete NAME [--force]                    delete a stream (--force: also its consumers)
  split NAME SHARD [--at HASH_KEY]         split an open shard (at the middle of its range by default)
  merge NAME SHARD ADJACENT_SHARD          merge two adjacent open shards
  scale NAME COUNT                         UpdateShardCount to COUNT open shards
  retention NAME HOURS                     set the retention period (24 to 8760 hours)

options:
  --no-wait              return at once instead of waiting for the stream to be ACTIVE
  --wait-timeout MS      how long to wait (default 120000)
${COMMON_OPTIONS_HELP}

examples:
  sluice stream create orders --shards 8
  sluice stream describe orders --json
  sluice stream split orders shardId-000000000000
  sluice stream scale orders 16
  sluice stream retention orders 48

${EXIT_CODES_HELP}
`;

const OPTIONS = {
  shards: { type: "string" },
  "on-demand": { type: "boolean", default: false },
  force: { type: "boolean", default: false },
  at: { type: "string" },
  "no-wait": { type: "boolean", default: false },
  "wait-timeout": { type: "string" },
} as const;

export async function runStreamCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io = processIo,
): Promise<number> {
  const [action = "", ...rest] = args;
  const what = `sluice stream ${action}`.trimEnd();
  let client: SluiceClient | undefined;
  try {
    if (action === "" || action === "--help" || action === "-h" || action === "help") {
      io.stdout.write(STREAM_HELP);
      return action === "" ? 2 : EXIT_OK;
    }
    const { values, positionals } = parse(rest, OPTIONS);
    if (values.help === true) {
      io.stdout.write(STREAM_HELP);
      return EXIT_OK;
    }
    const json = values.json === true;
    const wait = values["no-wait"] !== true;
    const waitTimeoutMs =
      values["wait-timeout"] === undefined
        ? 120_000
        : positiveInteger("--wait-timeout", values["wait-timeout"]);
    const need = (count: number, names: string) => {
      if (positionals.length !== count)
        throw new UsageError(`expected ${names}, got ${positionals.length} argument(s)`);
    };
    const name = positionals[0] ?? "";
    client = createClient(values, env);
    const waitActive = async () => {
      if (wait) await client?.waitForStreamStatus(name, { timeoutMs: waitTimeoutMs });
    };
    switch (action) {
      case "create": {
        need(1, "NAME");
        const onDemand = values["on-demand"] === true;
        const shardCount = values.shards === undefined ? 4 : positiveInteger("--shards", values.shards);
        await client.createStream({
          streamName: name,
          shardCount,
          streamModeDetails: {
            streamMode: onDemand
              ? streamsProto.StreamMode.STREAM_MODE_ON_DEMAND
              : streamsProto.StreamMode.STREAM_MODE_PROVISIONED,
          },
        });
        await waitActive();
        report(io, json, {
          stream: name,
          shards: shardCount,
          mode: onDemand ? "ON_DEMAND" : "PROVISIONED",
          status: wait ? "ACTIVE" : "CREATING",
        });
        return EXIT_OK;
      }
      case "describe": {
        need(1, "NAME");
        const { streamDescriptionSummary: summary } = await client.describeStreamSummary({
          streamName: name,
        });
        const shards = await client.listAllShards(name);
        const shardRows = shards.map((shard) => ({
          shard: shard.shardId,
          state: (shard.sequenceNumberRange?.endingSequenceNumber ?? "") === "" ? "OPEN" : "CLOSED",
          parents: [shard.parentShardId, shard.adjacentParentShardId].filter(Boolean).join(","),
          startingHashKey: shard.hashKeyRange?.startingHashKey ?? "",
          endingHashKey: shard.hashKeyRange?.endingHashKey ?? "",
          startingSequenceNumber: shard.sequenceNumberRange?.startingSequenceNumber ?? "",
          endingSequenceNumber: shard.sequenceNumberRange?.endingSequenceNumber ?? "",
        }));
        const head = {
          stream: summary?.streamName ?? name,
          arn: summary?.streamArn ?? "",
          status: statusName(summary?.streamStatus),
          mode: modeName(summary?.streamModeDetails?.streamMode),
          openShards: summary?.openShardCount ?? 0,
          retentionHours: summary?.retentionPeriodHours ?? 0,
          consumers: summary?.consumerCount ?? 0,
          created: isoTime(summary?.streamCreationTimestamp ?? 0),
        };
        if (json) printJson(io, { ...head, shards: shardRows });
        else {
          for (const [key, value] of Object.entries(head))
            io.stdout.write(`${`${key}:`.padEnd(16)}${value}\n`);
          io.stdout.write("\n");
          printTable(
            io,
            shardRows.map((row) => ({
              shard: row.shard,
              state: row.state,
              parents: row.parents,
              startingHashKey: row.startingHashKey,
              endingHashKey: row.endingHashKey,
            })),
          );
        }
        return EXIT_OK;
      }
      case "list": {
        need(0, "no arguments");
        const rows: { stream: string; status: string; mode: string; created: string }[] = [];
        let nextToken = "";
        do {
          const page = await client.listStreams(nextToken === "" ? {} : { nextToken });
          for (const summary of page.streamSummaries) {
            rows.push({
              stream: summary.streamName,
              status: statusName(summary.streamStatus),
              mode: modeName(summary.streamModeDetails?.streamMode),
              created: isoTime(summary.streamCreationTimestamp),
            });
          }
          if (page.streamSummaries.length === 0) {
            for (const streamName of page.streamNames)
              rows.push({ stream: streamName, status: "", mode: "", created: "" });
          }
          nextToken = page.hasMoreStreams ? page.nextToken : "";
        } while (nextToken !== "");
        if (json) printJson(io, rows);
        else printTable(io, rows, "(no streams; create one with: sluice stream create NAME)");
        return EXIT_OK;
      }
      case "delete": {
        need(1, "NAME");
        await client.deleteStream({ streamName: name, enforceConsumerDeletion: values.force === true });
        report(io, json, { stream: name, status: "DELETING" });
        return EXIT_OK;
      }
      case "split": {
        need(2, "NAME SHARD");
        const shardId = positionals[1] as string;
        let at = values.at as string | undefined;
        if (at === undefined) {
          const shard = (await client.listAllShards(name)).find((candidate) => candidate.shardId === shardId);
          if (shard?.hashKeyRange === undefined)
            throw new UsageError(
              `stream ${name} has no shard ${shardId} (see sluice stream describe ${name})`,
            );
          const start = BigInt(shard.hashKeyRange.startingHashKey);
          const end = BigInt(shard.hashKeyRange.endingHashKey);
          at = ((start + end + 1n) / 2n).toString();
        } else if (!/^\d+$/.test(at))
          throw new UsageError(`--at must be a decimal hash key, not ${JSON.stringify(at)}`);
        await client.splitShard({ streamName: name, shardToSplit: shardId, newStartingHashKey: at });
        await waitActive();
        report(io, json, { stream: name, split: shardId, at, status: wait ? "ACTIVE" : "UPDATING" });
        return EXIT_OK;
      }
      case "merge": {
        need(3, "NAME SHARD ADJACENT_SHARD");
        await client.mergeShards({
          streamName: name,
          shardToMerge: positionals[1] as string,
          adjacentShardToMerge: positionals[2] as string,
        });
        await waitActive();
        report(io, json, {
          stream: name,
          merged: `${positionals[1]}+${positionals[2]}`,
          status: wait ? "ACTIVE" : "UPDATING",
        });
        return EXIT_OK;
      }
      case "scale": {
        need(2, "NAME COUNT");
        const target = positiveInteger("COUNT", positionals[1]);
        const response = await client.updateShardCount({
          streamName: name,
          targetShardCount: target,
          scalingType: streamsProto.ScalingType.SCALING_TYPE_UNIFORM_SCALING,
        });
        await waitActive();
        report(io, json, {
          stream: name,
          from: response.currentShardCount,
          to: response.targetShardCount,
          status: wait ? "ACTIVE" : "UPDATING",
        });
        return EXIT_OK;
      }
      case "retention": {
        need(2, "NAME HOURS");
        const hours = positiveInteger("HOURS", positionals[1]);
        const { streamDescriptionSummary: summary } = await client.describeStreamSummary({
          streamName: name,
        });
        const current = summary?.retentionPeriodHours ?? 0;
        if (hours > current)
          await client.increaseStreamRetentionPeriod({ streamName: name, retentionPeriodHours: hours });
        else if (hours < current)
          await client.decreaseStreamRetentionPeriod({ streamName: name, retentionPeriodHours: hours });
        report(io, json, { stream: name, retentionHours: hours, previousHours: current });
        return EXIT_OK;
      }
      default:
        throw new UsageError(
          `unknown action "${action}"; expected create, describe, list, delete, split, merge, scale or retention`,
        );
    }
  } catch (error) {
    return reportError(io, what, error, STREAM_HELP);
  } finally {
    client?.close();
  }
}

function report(io: Io, json: boolean, fields: Record<string, unknown>): void {
  if (json) printJson(io, fields);
  else printTable(io, [fields]);
}

function statusName(status: number | undefined): string {
  return status === undefined ? "" : streamsProto.streamStatusToJSON(status).replace("STREAM_STATUS_", "");
}

function modeName(mode: number | undefined): string {
  return mode === undefined ? "" : streamsProto.streamModeToJSON(mode).replace("STREAM_MODE_", "");
}
