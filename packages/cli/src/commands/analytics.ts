/**
 * `sluice analytics create|list|describe|delete|preview`: stream analytics applications (the
 * Analytics part), kept in the cluster's definitions stream through @sluice/analytics'
 * ApplicationStore. Every node follows the applications and one runs each; these commands only
 * change and show the definitions, except `preview`, which runs a query here, over the stream's
 * new records, and prints its first results as they come (writing nothing). `describe` adds
 * where the application runs (its consumer group's lease) and that node's metrics (NodeStatus).
 */
import { credentials, type Metadata } from "@grpc/grpc-js";
import {
  type ApplicationDefinition,
  type ApplicationInput,
  ApplicationInUseError,
  ApplicationNotFoundError,
  ApplicationStore,
  applicationGroupName,
  InvalidApplicationError,
  InvalidSqlError,
  previewQuery,
  stateStreamName,
  UnsupportedSqlError,
} from "@sluice/analytics";
import type { SluiceClient } from "@sluice/client";
import { admin, groups } from "@sluice/proto";
import {
  COMMON_OPTIONS_HELP,
  type CommandContext,
  type DefinitionCommand,
  EXIT_CODES_HELP,
  EXIT_OK,
  type Io,
  isoTime,
  positiveInteger,
  processIo,
  runDefinitionCommand,
  UsageError,
} from "./common.js";

/** Rows `preview` prints unless --rows says otherwise. */
const PREVIEW_ROWS_DEFAULT = 20;
/** How long `describe` waits for the group's lease and each node's status. */
const DESCRIBE_STATUS_TIMEOUT_MS = 3_000;
/** The metrics `describe` prints, as the node status names them after `analytics_<name>_`. */
const DESCRIBED_METRICS = [
  "records_in",
  "late_records_dropped",
  "windows_emitted",
  "rows_emitted",
  "snapshots_written",
  "input_lag_ms",
  "watermark_lag_ms",
  "open_windows",
  "failures",
] as const;

export const ANALYTICS_HELP = `usage: sluice analytics create NAME --sql SQL --output STREAM [--lateness-ms N]
       sluice analytics describe NAME
       sluice analytics list
       sluice analytics delete NAME
       sluice analytics preview --sql SQL [--rows N] [--from-start] [--lateness-ms N]

An application runs one SQL query continuously over the stream its FROM names and writes each
result row, as JSON, to --output (created ON_DEMAND when missing; a delivery stream reading that
stream delivers the results further). One node runs it at a time; another takes over when that
node dies, and every window is written exactly once.

SQL: SELECT … FROM stream [WHERE …] [GROUP BY TUMBLE(time, INTERVAL 'n' UNIT) | HOP(time,
INTERVAL slide, INTERVAL size) [, keys]] with COUNT, SUM, MIN, MAX, AVG, COUNT(DISTINCT …).
time is approximate_arrival_time (or ROWTIME) or a JSON field (ms since the epoch or ISO-8601).
See docs/analytics.md.

options:
  --sql SQL              the query
  --output STREAM        create: where results go
  --lateness-ms N        how late (behind the newest time seen) a record may come and still count (default 0)
  --rows N               preview: stop after N rows (default ${PREVIEW_ROWS_DEFAULT})
  --from-start           preview: read the stream from its oldest record, not only new ones
${COMMON_OPTIONS_HELP}

examples:
  sluice analytics create clicks-per-minute --output clicks-per-minute \\
    --sql "SELECT page, COUNT(*) AS clicks FROM clicks GROUP BY TUMBLE(approximate_arrival_time, INTERVAL '1' MINUTE), page"
  sluice analytics preview --sql "SELECT customer, amount FROM orders WHERE amount > 100"
${EXIT_CODES_HELP}
`;

const OPTIONS = {
  sql: { type: "string" },
  output: { type: "string" },
  "lateness-ms": { type: "string" },
  rows: { type: "string" },
  "from-start": { type: "boolean", default: false },
} as const;

export async function runAnalyticsCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Io = processIo,
): Promise<number> {
  return runDefinitionCommand(ANALYTICS_COMMAND, args, env, io);
}

const ANALYTICS_COMMAND: DefinitionCommand<ApplicationDefinition, ApplicationInput> = {
  command: "sluice analytics",
  help: ANALYTICS_HELP,
  options: OPTIONS,
  noun: "application",
  helpWithoutAction: true,
  checkFlags: allowedLatenessMsOf,
  openStore: (client) => new DescribingStore(client),
  inputOf: (name, values) => {
    const sql = values.sql as string | undefined;
    const output = values.output as string | undefined;
    if (sql === undefined || output === undefined) throw new UsageError("create needs --sql and --output");
    return { name: name(), sql, outputStream: output, allowedLatenessMs: allowedLatenessMsOf(values) };
  },
  createdDetail: (definition) => `: ${definition.inputStream} → ${definition.outputStream}`,
  summaryOf,
  describeDetail,
  extraActions: { preview },
  errors: {
    notFound: ApplicationNotFoundError,
    inUse: ApplicationInUseError,
    refused: [UnsupportedSqlError, InvalidSqlError, InvalidApplicationError],
  },
};

/** --lateness-ms: a whole number of ms, 0 when not given. */
function allowedLatenessMsOf(values: Record<string, unknown>): number {
  const lateness = values["lateness-ms"] as string | undefined;
  if (lateness !== undefined && !/^\d+$/.test(lateness))
    throw new UsageError("--lateness-ms must be a whole number");
  return lateness === undefined ? 0 : Number(lateness);
}

/** `preview --sql SQL`: runs the query here over the stream's records and prints its first rows. */
async function preview({ io, client, values, positionals, json }: CommandContext): Promise<number> {
  if (positionals.length !== 0) throw new UsageError("expected: preview --sql SQL");
  const sql = values.sql as string | undefined;
  if (sql === undefined) throw new UsageError("preview needs --sql");
  const rows = values.rows === undefined ? PREVIEW_ROWS_DEFAULT : positiveInteger("--rows", values.rows);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once("SIGINT", onSignal);
  let printed = 0;
  try {
    await previewQuery({
      client,
      sql,
      allowedLatenessMs: allowedLatenessMsOf(values),
      start: values["from-start"] === true ? "TRIM_HORIZON" : "LATEST",
      signal: abort.signal,
      // Printed once every shard is read from: records written from then on are in the preview.
      onReady: (shardCount) => {
        if (!json)
          io.stderr.write(
            `preview: reading ${shardCount} shard(s); waiting for results (${rows} rows; Ctrl-C stops)\n`,
          );
      },
      onRow: (row) => {
        io.stdout.write(`${JSON.stringify(row)}\n`);
        printed += 1;
        return printed < rows;
      },
    });
  } finally {
    process.removeListener("SIGINT", onSignal);
  }
  return EXIT_OK;
}

function summaryOf(definition: ApplicationDefinition): Record<string, unknown> {
  return {
    name: definition.name,
    input: definition.inputStream,
    output: definition.outputStream,
    latenessMs: definition.allowedLatenessMs,
    created: isoTime(definition.createdAtMs),
  };
}

/** Where an application runs and what it did, as `describe` shows it (read when described). */
interface ApplicationStatus {
  /** "running", "starting" (a member holds the lease, no node reports it running yet) or "waiting" (no lease holder). */
  readonly state: "running" | "starting" | "waiting";
  /** The node that runs it (from the lease holder's member id, `node-<id>-…`); 0 when none. */
  readonly node: number;
  readonly leaseEpoch: number;
  /** The current snapshot's sequence number in the state stream; "" before the first. */
  readonly checkpoint: string;
  /** The running node's metrics (DESCRIBED_METRICS); empty when no node answered NodeStatus. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Why a part is missing (a node or the group not answering, no sluice:Admin for NodeStatus). */
  readonly notes: readonly string[];
}

type DescribedApplication = ApplicationDefinition & { readonly status?: ApplicationStatus };

/** The application store, whose `describe` also reads the application's status from the cluster. */
class DescribingStore extends ApplicationStore {
  readonly #client: SluiceClient;
  constructor(client: SluiceClient) {
    super({ client });
    this.#client = client;
  }

  override async describe(name: string): Promise<DescribedApplication> {
    const definition = await super.describe(name);
    return { ...definition, status: await statusOf(this.#client, definition) };
  }
}

/**
 * The application's lease (DescribeGroup on its consumer group) and the metrics of the node
 * that runs it (NodeStatus of every endpoint; the admin service needs sluice:Admin when auth
 * is on). Both go over the client's own channels, so its TLS and key apply.
 */
async function statusOf(client: SluiceClient, definition: ApplicationDefinition): Promise<ApplicationStatus> {
  const notes: string[] = [];
  const channels = new Map<string, ReturnType<SluiceClient["pickEndpoint"]>>();
  for (let i = 0; i < client.endpoints.length; i++) {
    const endpoint = client.pickEndpoint();
    channels.set(endpoint.address, endpoint);
  }
  const deadline = (): { deadline: number } => ({ deadline: Date.now() + DESCRIBE_STATUS_TIMEOUT_MS });
  const metadata = (): Metadata => client.callMetadata();
  let lease: groups.ShardLease | undefined;
  for (const endpoint of channels.values()) {
    // A client over the SluiceClient's channel: not closed here (closing it closes the channel).
    const groupsClient = new groups.ConsumerGroupServiceClient(
      endpoint.address,
      credentials.createInsecure(),
      {
        channelOverride: endpoint.channel.getChannel(),
      },
    );
    try {
      const description = await new Promise<groups.DescribeGroupResponse>((resolve, reject) =>
        groupsClient.describeGroup(
          groups.DescribeGroupRequest.fromPartial({
            streamName: stateStreamName(definition),
            groupName: applicationGroupName(definition),
          }),
          metadata(),
          deadline(),
          (error, response) => (error === null ? resolve(response) : reject(error)),
        ),
      );
      lease = description.shards[0];
      notes.length = 0;
      break;
    } catch (error) {
      notes.push(`group: ${messageOf(error)}`);
    }
  }
  const owner = lease?.owner ?? "";
  const ownerNode = Number(/^node-(\d+)-/.exec(owner)?.[1] ?? 0);
  const prefix = `analytics_${definition.name}_`;
  let metrics: Record<string, number> = {};
  let runningNode = 0;
  const statuses = await Promise.all(
    [...channels.values()].map(async (endpoint) => {
      const adminClient = new admin.AdminServiceClient(endpoint.address, credentials.createInsecure(), {
        channelOverride: endpoint.channel.getChannel(),
      });
      try {
        return await new Promise<admin.NodeStatusResponse>((resolve, reject) =>
          adminClient.nodeStatus({}, metadata(), deadline(), (error, response) =>
            error === null ? resolve(response) : reject(error),
          ),
        );
      } catch (error) {
        notes.push(`metrics of ${endpoint.address}: ${messageOf(error)}`);
        return undefined;
      }
    }),
  );
  for (const status of statuses) {
    if (status === undefined) continue;
    const running = status.metrics[`${prefix}running`] === 1;
    if (!running && status.nodeId !== ownerNode) continue;
    if (running) runningNode = status.nodeId;
    metrics = {};
    for (const name of DESCRIBED_METRICS) {
      const value = status.metrics[`${prefix}${name}`];
      if (value !== undefined) metrics[name] = value;
    }
    if (running) break;
  }
  return {
    state: runningNode !== 0 ? "running" : owner !== "" ? "starting" : "waiting",
    node: runningNode !== 0 ? runningNode : ownerNode,
    leaseEpoch: Number(lease?.leaseEpoch ?? 0),
    checkpoint: lease?.checkpointSequenceNumber ?? "",
    metrics,
    notes,
  };
}

function messageOf(error: unknown): string {
  const details = (error as { details?: unknown }).details;
  if (typeof details === "string" && details !== "") return details;
  return error instanceof Error ? error.message : String(error);
}

/** What `describe` prints after the table: the SQL, where it runs, its metrics. */
function describeDetail(definition: DescribedApplication): string {
  const lines = [`sql: ${definition.sql}`];
  const status = definition.status;
  if (status !== undefined) {
    const where =
      status.state === "running"
        ? `running on node ${status.node}`
        : status.state === "starting"
          ? `starting on node ${status.node}`
          : "waiting for a node to take it";
    const snapshot = status.checkpoint === "" ? "no snapshot yet" : `snapshot ${status.checkpoint}`;
    lines.push(`state: ${where} (lease epoch ${status.leaseEpoch}, ${snapshot})`);
    const metrics = Object.entries(status.metrics);
    lines.push(
      metrics.length === 0
        ? "metrics: none reported yet"
        : `metrics: ${metrics.map(([name, value]) => `${name}=${value}`).join(" ")}`,
    );
    for (const note of status.notes) lines.push(`note: ${note}`);
  }
  return `${lines.join("\n")}\n`;
}
