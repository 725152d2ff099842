/**
 * `sluice group status STREAM GROUP`: a consumer group's members (epoch, last heartbeat, lease
 * count) and every shard's lease (owner, fencing epoch), checkpoint and lag in log entries, as
 * tables or one JSON object with --json. Asks the nodes in order until one answers.
 */
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import { groups } from "@sluice/proto";
import {
  COMMON_OPTIONS_HELP,
  callMetadataOf,
  EXIT_CODES_HELP,
  EXIT_FAILURE,
  EXIT_NOT_FOUND,
  EXIT_OK,
  EXIT_UNREACHABLE,
  endpointsOf,
  type Io,
  isoTime,
  parse,
  printJson,
  printTable,
  processIo,
  reportError,
  UsageError,
} from "./common.js";

export const GROUP_HELP = `usage: sluice group status STREAM GROUP [options]

Shows a consumer group: its members and, for every shard, the lease (owner and fencing epoch),
the checkpoint and the lag (log entries between the checkpoint and the shard's tip).

options:
${COMMON_OPTIONS_HELP}

examples:
  sluice group status orders billing
  sluice group status orders billing --json | jq '.shards[] | select(.lagEntries > 1000)'
${EXIT_CODES_HELP}
`;

/** Deadline of the DescribeGroup call on each node. */
const DESCRIBE_TIMEOUT_MS = 10_000;

export async function runGroupCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io = processIo,
): Promise<number> {
  const what = "sluice group status";
  try {
    const { values, positionals } = parse(args, {});
    if (values.help === true) {
      io.stdout.write(GROUP_HELP);
      return EXIT_OK;
    }
    const [action, streamName, groupName] = positionals;
    if (
      action !== "status" ||
      streamName === undefined ||
      groupName === undefined ||
      positionals.length !== 3
    ) {
      throw new UsageError("expected: status STREAM GROUP");
    }
    let lastError: ServiceError | undefined;
    for (const endpoint of endpointsOf(values, env)) {
      const client = new groups.ConsumerGroupServiceClient(endpoint, credentials.createInsecure());
      try {
        const description = await new Promise<groups.DescribeGroupResponse>((resolve, reject) =>
          client.describeGroup(
            groups.DescribeGroupRequest.fromPartial({ streamName, groupName }),
            callMetadataOf(values, env),
            { deadline: Date.now() + DESCRIBE_TIMEOUT_MS },
            (error, response) => (error === null ? resolve(response) : reject(error)),
          ),
        );
        print(io, description, values.json === true);
        return EXIT_OK;
      } catch (error) {
        const failure = error as ServiceError;
        if (failure.code === status.NOT_FOUND) {
          io.stderr.write(
            `${what}: not found: ${failure.details} (check the names; a worker must have joined)\n`,
          );
          return EXIT_NOT_FOUND;
        }
        if (failure.code !== status.UNAVAILABLE && failure.code !== status.DEADLINE_EXCEEDED) {
          io.stderr.write(`${what}: ${failure.details ?? failure.message}\n`);
          return EXIT_FAILURE;
        }
        lastError = failure;
      } finally {
        client.close();
      }
    }
    io.stderr.write(
      `${what}: no node answered (${lastError?.details ?? "no endpoint"}); start the cluster (./scripts/cluster up) or pass --endpoint HOST:PORT\n`,
    );
    return EXIT_UNREACHABLE;
  } catch (error) {
    return reportError(io, what, error, GROUP_HELP);
  }
}

function print(io: Io, description: groups.DescribeGroupResponse, json: boolean): void {
  if (json) {
    printJson(io, groups.DescribeGroupResponse.toJSON(description));
    return;
  }
  io.stdout.write(
    `group ${description.groupName} of stream ${description.streamName} (session timeout ${description.sessionTimeoutMs} ms)\n\nmembers:\n`,
  );
  printTable(
    io,
    description.members.map((member) => ({
      member: member.memberId,
      epoch: member.memberEpoch,
      leases: member.leaseCount,
      joined: isoTime(member.joinedAt),
      lastHeartbeat: isoTime(member.lastHeartbeat),
    })),
  );
  io.stdout.write("\nshards:\n");
  printTable(
    io,
    description.shards.map((shard) => ({
      shard: shard.shardId,
      owner: shard.shardEnd ? "(finished)" : shard.owner === "" ? "(unleased)" : shard.owner,
      leaseEpoch: shard.leaseEpoch,
      checkpoint: shard.checkpointSequenceNumber === "" ? "-" : shard.checkpointSequenceNumber,
      lag: shard.lagEntries < 0 ? "?" : shard.lagEntries,
    })),
  );
}
