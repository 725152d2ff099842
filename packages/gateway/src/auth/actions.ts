/**
 * What an operation is, for authorization and the audit log: its IAM action name and the stream
 * it acts on. Kinesis operations are `kinesis:<Operation>` (the IAM names: `kinesis:PutRecords`,
 * `kinesis:SubscribeToShard`, …); consumer-group operations of ConsumerGroupService are
 * `sluice:<Operation>` (`sluice:JoinGroup`, `sluice:Heartbeat`, `sluice:Checkpoint`,
 * `sluice:LeaveGroup`, `sluice:DescribeGroup`); delivery-stream operations served on the Kinesis
 * port (Firehose_20150804) are `firehose:<Operation>` on the delivery stream's name.
 *
 * The resource is the stream: StreamName, else the stream of StreamARN or ConsumerARN, else (for
 * GetRecords) the stream named inside the shard iterator. The iterator is only read here, not
 * verified: the read path refuses a forged one, and a genuine one names its real stream because
 * the name is under the iterator's MAC.
 */

/** The namespace of an action: Kinesis's own, or Sluice's consumer groups. */
export type ActionNamespace = "kinesis" | "sluice" | "firehose";

/**
 * Operations that change the cluster's configuration rather than read or write records: each is
 * written to the audit log (allowed or not).
 */
export const CONTROL_PLANE_OPERATIONS: ReadonlySet<string> = new Set([
  "CreateStream",
  "DeleteStream",
  "UpdateShardCount",
  "SplitShard",
  "MergeShards",
  "UpdateStreamMode",
  "AddTagsToStream",
  "RemoveTagsFromStream",
  "TagResource",
  "UntagResource",
  "IncreaseStreamRetentionPeriod",
  "DecreaseStreamRetentionPeriod",
  "RegisterStreamConsumer",
  "DeregisterStreamConsumer",
  "EnableEnhancedMonitoring",
  "DisableEnhancedMonitoring",
  "StartStreamEncryption",
  "StopStreamEncryption",
  "PutResourcePolicy",
  "DeleteResourcePolicy",
  // Firehose (delivery streams).
  "CreateDeliveryStream",
  "DeleteDeliveryStream",
  "UpdateDestination",
  "TagDeliveryStream",
  "UntagDeliveryStream",
  "StartDeliveryStreamEncryption",
  "StopDeliveryStreamEncryption",
]);

/** The IAM action name of an operation ("PutRecords" → "kinesis:PutRecords"). */
export function actionOf(namespace: ActionNamespace, operation: string): string {
  return `${namespace}:${operation}`;
}

/** The Kinesis name of a camelCase gRPC method name ("putRecords" → "PutRecords"). */
export function operationNameOf(method: string): string {
  return method.charAt(0).toUpperCase() + method.slice(1);
}

/** The stream a request acts on, or undefined when it names none (ListStreams, DescribeLimits). */
export function streamOf(request: unknown): string | undefined {
  if (request === null || typeof request !== "object") return undefined;
  const fields = request as {
    streamName?: unknown;
    streamArn?: unknown;
    consumerArn?: unknown;
    shardIterator?: unknown;
  };
  if (typeof fields.streamName === "string" && fields.streamName !== "") return fields.streamName;
  if (typeof fields.streamArn === "string" && fields.streamArn !== "") return streamOfArn(fields.streamArn);
  if (typeof fields.consumerArn === "string" && fields.consumerArn !== "")
    return streamOfArn(fields.consumerArn);
  if (typeof fields.shardIterator === "string" && fields.shardIterator !== "") {
    return streamOfIterator(fields.shardIterator);
  }
  return undefined;
}

/** `arn:aws:kinesis:<region>:<account>:stream/<name>[/consumer/<consumer>:<time>]` → name. */
export function streamOfArn(arn: string): string | undefined {
  const at = arn.indexOf(":stream/");
  if (!arn.startsWith("arn:") || at < 0) return undefined;
  const name = arn.slice(at + ":stream/".length).split("/")[0];
  return name === undefined || name === "" ? undefined : name;
}

/** Offset of the stream-name length byte in a shard iterator (shard-iterator.ts's layout, version 1). */
const ITERATOR_NAME_LENGTH_OFFSET = 31;

/** The stream name inside a shard iterator (unverified; see the module comment), or undefined. */
function streamOfIterator(token: string): string | undefined {
  if (token.length > 1_024 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const bytes = Buffer.from(token, "base64url");
  if (bytes.length <= ITERATOR_NAME_LENGTH_OFFSET + 1 || bytes[0] !== 1) return undefined;
  const length = bytes[ITERATOR_NAME_LENGTH_OFFSET] as number;
  const start = ITERATOR_NAME_LENGTH_OFFSET + 1;
  if (length === 0 || start + length > bytes.length) return undefined;
  return bytes.toString("utf8", start, start + length);
}
