// Proves the Docker deployment end to end with a real Docker engine: the image builds from deploy/Dockerfile (on a local stand-in for node:24-bookworm-slim), the compose cluster starts with TLS and authentication on (certificates and an admin key made on first start) and becomes healthy, anonymous and plaintext calls are refused while the AWS CLI over https with the admin key is served, 10,000 records put through the published ports read back whole, a real Prometheus sees all three nodes up and per-shard incoming records summing to what was put, writes continue with a node killed, and the restarted node catches up to identical logs.
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { status as GrpcStatus, Metadata } from "@grpc/grpc-js";
import { AdminClient, readShard, StreamsCallError, StreamsClient, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");
const PROJECT = "sluice-docker-test";
const STREAM = "docker-smoke";
const RECORDS = 10_000;
const BATCH_RECORDS = 500;
const GRPC_PORTS = [50051, 50052, 50053] as const;
const KINESIS_HTTP_PORT = 4567;
const METRICS_PORTS = [9464, 9465, 9466] as const;
const PROMETHEUS_ADDRESS = "127.0.0.1:9090";
const STEP_TIMEOUT_MS = 120_000;
const BUILD_TIMEOUT_MS = 420_000;

const run = promisify(execFile);

/** Why Docker cannot run here, or undefined when `docker info` answers. */
function dockerUnavailable(): string | undefined {
  try {
    execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "pipe", timeout: 20_000 });
    return undefined;
  } catch (error) {
    const text = error instanceof Error ? error.message.split("\n").slice(0, 2).join(" ") : String(error);
    return `Docker cannot run here (${text}); install docker.io and start dockerd (.ci/run does both)`;
  }
}

/** `docker compose` when the plugin exists, else `docker-compose` (v1). */
function composeCommand(): readonly string[] {
  try {
    execFileSync("docker", ["compose", "version"], { stdio: "pipe", timeout: 20_000 });
    return ["docker", "compose"];
  } catch {
    return ["docker-compose"];
  }
}

const unavailable = dockerUnavailable();
if (unavailable !== undefined) console.warn(`docker-compose.test: SKIPPED — ${unavailable}`);

async function sh(
  command: readonly string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  const [file, ...args] = command as [string, ...string[]];
  try {
    const { stdout } = await run(file, args, {
      cwd: ROOT,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ...env },
    });
    return stdout;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    const tail = `${failed.stdout ?? ""}\n${failed.stderr ?? ""}`.trim().split("\n").slice(-30).join("\n");
    throw new Error(`${command.join(" ")} failed: ${failed.message.split("\n")[0]}\n${tail}`);
  }
}

describe.skipIf(unavailable !== undefined)("docker compose cluster", () => {
  const compose = [...composeCommand(), "-p", PROJECT, "-f", join(ROOT, "docker-compose.yml")];
  // The compose cluster serves TLS and checks access keys, both made by its `init` service on
  // first start: the clients trust that CA and send that admin key, read from a node once up.
  let clients: StreamsClient[] = [];
  let ca = Buffer.alloc(0);
  let caFile = "";
  let adminKey = { accessKeyId: "", secretAccessKey: "" };
  let admins: AdminClient[] = [];
  const timings: [string, number][] = [];
  let stepStartedAt = Date.now();
  const step = (name: string) => {
    const now = Date.now();
    timings.push([name, now - stepStartedAt]);
    stepStartedAt = now;
  };
  let prometheus: ChildProcess | undefined;
  let prometheusDir: string | undefined;
  let contextDir: string | undefined;
  const startedAt = Date.now();

  const containerOf = async (service: string): Promise<string> =>
    (await sh([...compose, "ps", "-q", service], STEP_TIMEOUT_MS)).trim();

  const waitHealthy = async (services: readonly string[]) => {
    const ids = await Promise.all(services.map(containerOf));
    await waitFor(
      async () => {
        const out = await sh(["docker", "inspect", "-f", "{{.State.Health.Status}}", ...ids], 20_000);
        return out
          .trim()
          .split("\n")
          .every((status) => status === "healthy");
      },
      { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 500, what: `${services.join(", ")} to be healthy` },
    );
  };

  /** Puts `count` numbered records from `first` through `client`, retrying failed ones; returns how many were put. */
  const putNumbered = async (client: StreamsClient, first: number, count: number): Promise<void> => {
    for (let start = first; start < first + count; start += BATCH_RECORDS) {
      let pending = Array.from(
        { length: Math.min(BATCH_RECORDS, first + count - start) },
        (_, i) => start + i,
      );
      await waitFor(
        async () => {
          const response = await client.putRecords({
            streamName: STREAM,
            records: pending.map((n) => ({
              partitionKey: `key-${n % 97}`,
              data: Buffer.from(`record-${n}`),
              explicitHashKey: "",
            })),
          });
          pending = pending.filter((_, i) => response.records[i]?.errorCode !== "");
          return pending.length === 0;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: `records ${start}… to be put through ${client.address}` },
      );
    }
  };

  const prometheusQuery = async (
    query: string,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const response = await fetch(
      `http://${PROMETHEUS_ADDRESS}/api/v1/query?query=${encodeURIComponent(query)}`,
    );
    const body = (await response.json()) as {
      status: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== "success") throw new Error(`prometheus query ${query}: ${JSON.stringify(body)}`);
    return body.data.result;
  };

  beforeAll(
    async () => {
      await sh([...compose, "down", "-v", "--remove-orphans"], STEP_TIMEOUT_MS).catch(() => "");
      await sh([join(ROOT, "scripts/docker-base-image")], BUILD_TIMEOUT_MS);
      step("base image");
      // The build context is the checkout as it is; with SLUICE_DOCKER_BUILD_FROM=HEAD, the last
      // commit only (for a shared checkout whose uncommitted work does not build yet).
      let context = ROOT;
      if (process.env.SLUICE_DOCKER_BUILD_FROM === "HEAD") {
        contextDir = mkdtempSync(join(tmpdir(), "sluice-docker-context-"));
        await sh(["sh", "-c", `git archive HEAD | tar -x -C "${contextDir}"`], STEP_TIMEOUT_MS);
        await sh(
          ["sh", "-c", `cp deploy/build-ca/ca.pem "${contextDir}/deploy/build-ca/" 2>/dev/null || true`],
          10_000,
        );
        context = contextDir;
      }
      await sh(
        [
          "docker",
          "build",
          "-q",
          "--force-rm",
          "-f",
          join(context, "deploy/Dockerfile"),
          "-t",
          "sluice:dev",
          context,
        ],
        BUILD_TIMEOUT_MS,
      );
      step("image build");
      // Prometheus and Grafana images cannot be pulled here: the nodes only; Debian's prometheus
      // runs on the host against the published metrics ports instead.
      await sh([...compose, "up", "-d", "--no-build", "node1", "node2", "node3"], STEP_TIMEOUT_MS);
      await waitHealthy(["node1", "node2", "node3"]);
      ca = Buffer.from(
        await sh([...compose, "exec", "-T", "node1", "cat", "/certs/ca.crt"], STEP_TIMEOUT_MS),
      );
      prometheusDir = mkdtempSync(join(tmpdir(), "sluice-prometheus-"));
      caFile = join(prometheusDir, "ca.crt");
      writeFileSync(caFile, ca);
      adminKey = parseClientEnv(
        await sh([...compose, "exec", "-T", "node1", "cat", "/auth/client.env"], STEP_TIMEOUT_MS),
      );
      clients = GRPC_PORTS.map(
        (port) =>
          new StreamsClient(`127.0.0.1:${port}`, { timeoutMs: 15_000, tls: { ca }, credentials: adminKey }),
      );
      admins = GRPC_PORTS.map(
        // With auth on, the admin service needs sluice:Admin, which the admin policy grants.
        (port) =>
          new AdminClient(`127.0.0.1:${port}`, { timeoutMs: 5_000, tls: { ca }, credentials: adminKey }),
      );
      step("compose up and healthy");
    },
    BUILD_TIMEOUT_MS * 2 + STEP_TIMEOUT_MS * 2,
  );

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const admin of admins) admin.close();
    if (prometheus?.exitCode === null) prometheus.kill("SIGTERM");
    if (prometheusDir !== undefined) rmSync(prometheusDir, { recursive: true, force: true });
    if (contextDir !== undefined) rmSync(contextDir, { recursive: true, force: true });
    await sh([...compose, "down", "-v", "--remove-orphans"], STEP_TIMEOUT_MS).catch((error) => {
      console.warn(String(error));
      return "";
    });
    step("down -v");
    console.log(
      `docker-compose.test timings: ${timings.map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)} s`).join(", ")}; total ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
  }, STEP_TIMEOUT_MS);

  it(
    "refuses anonymous and plaintext calls; serves the AWS CLI over https with the admin key",
    async () => {
      const anonymous = new StreamsClient(`127.0.0.1:${GRPC_PORTS[0]}`, { timeoutMs: 10_000, tls: { ca } });
      const plaintext = new StreamsClient(`127.0.0.1:${GRPC_PORTS[0]}`, { timeoutMs: 5_000 });
      try {
        const refused = await anonymous.listStreams({}).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(refused).toBeInstanceOf(StreamsCallError);
        expect((refused as StreamsCallError).grpcCode).toBe(GrpcStatus.UNAUTHENTICATED);
        const unencrypted = await plaintext.listStreams({}).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(unencrypted).toBeInstanceOf(StreamsCallError);
        expect((unencrypted as StreamsCallError).grpcCode).toBe(GrpcStatus.UNAVAILABLE);
      } finally {
        anonymous.close();
        plaintext.close();
      }
      await (clients[0] as StreamsClient).listStreams({});
      if (spawnSync("aws", ["--version"], { stdio: "ignore" }).status === 0) {
        const listed = await sh(
          [
            "aws",
            "--endpoint-url",
            `https://localhost:${KINESIS_HTTP_PORT}`,
            "--ca-bundle",
            caFile,
            "--output",
            "json",
            "kinesis",
            "list-streams",
          ],
          STEP_TIMEOUT_MS,
          {
            AWS_ACCESS_KEY_ID: adminKey.accessKeyId,
            AWS_SECRET_ACCESS_KEY: adminKey.secretAccessKey,
            AWS_DEFAULT_REGION: "us-east-1",
            AWS_CONFIG_FILE: "/dev/null",
            AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
            AWS_EC2_METADATA_DISABLED: "true",
          },
        );
        expect(JSON.parse(listed)).toHaveProperty("StreamNames");
      } else {
        console.warn("docker-compose.test: the AWS CLI is not installed; its https check is skipped");
      }
      step("TLS and auth checks");
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "serves 10,000 records through the published ports, seen by Prometheus per shard",
    async () => {
      const [client1, client2] = clients as [StreamsClient, StreamsClient, StreamsClient];
      await client1.createActiveStream(
        {
          streamName: STREAM,
          streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
        },
        STEP_TIMEOUT_MS,
      );
      const authorization = new Metadata();
      authorization.set("authorization", `Bearer ${adminKey.accessKeyId}:${adminKey.secretAccessKey}`);
      const enabled = await new Promise<streams.EnableEnhancedMonitoringResponse>((done, fail) =>
        client1.raw.enableEnhancedMonitoring(
          { streamName: STREAM, streamArn: "", shardLevelMetrics: ["ALL"] },
          authorization,
          (error, response) => (error === null ? done(response) : fail(error)),
        ),
      );
      expect(enabled.desiredShardLevelMetrics).toContain("IncomingRecords");
      step("stream and enhanced monitoring");

      // Spread over the three nodes' published ports.
      const perNode = RECORDS / 4;
      await Promise.all([
        putNumbered(clients[0] as StreamsClient, 0, perNode * 2),
        putNumbered(clients[1] as StreamsClient, perNode * 2, perNode),
        putNumbered(clients[2] as StreamsClient, perNode * 3, perNode),
      ]);
      step(`put ${RECORDS}`);

      const shards = (await client2.listShards({ streamName: STREAM })).shards;
      const seen = new Set<string>();
      await waitFor(
        async () => {
          seen.clear();
          for (const shard of shards) {
            for (const record of await readShard(client2, { streamName: STREAM, shardId: shard.shardId })) {
              seen.add(record.data.toString());
            }
          }
          return seen.size === RECORDS;
        },
        { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 500, what: `${RECORDS} records readable through node 2` },
      );
      for (let n = 0; n < RECORDS; n += 997) expect(seen.has(`record-${n}`)).toBe(true);
      step("read back");

      if (prometheusDir === undefined) throw new Error("beforeAll made no temporary folder");
      writeFileSync(
        join(prometheusDir, "prometheus.yml"),
        [
          "global:",
          "  scrape_interval: 1s",
          "scrape_configs:",
          "  - job_name: sluice",
          "    scheme: https",
          "    tls_config:",
          `      ca_file: ${caFile}`,
          "    static_configs:",
          `      - targets: [${METRICS_PORTS.map((port) => `"127.0.0.1:${port}"`).join(", ")}]`,
          "",
        ].join("\n"),
      );
      prometheus = spawn(
        "prometheus",
        [
          `--config.file=${join(prometheusDir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(prometheusDir, "data")}`,
          `--web.listen-address=${PROMETHEUS_ADDRESS}`,
        ],
        { stdio: "ignore" },
      );
      const up = await waitFor(
        async () => {
          const result = await prometheusQuery("up");
          return result.length === 3 && result.every((sample) => sample.value[1] === "1")
            ? result
            : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: "prometheus to scrape all three nodes (up == 1)" },
      );
      expect(up.map((sample) => sample.metric.instance).sort()).toEqual(
        METRICS_PORTS.map((port) => `127.0.0.1:${port}`),
      );
      const total = await waitFor(
        async () => {
          const [sample] = await prometheusQuery(
            `sum(sluice_shard_incoming_records_total{stream="${STREAM}"})`,
          );
          return sample !== undefined && Number(sample.value[1]) >= RECORDS
            ? Number(sample.value[1])
            : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500, what: "the per-shard incoming records to reach 10,000" },
      );
      expect(total).toBe(RECORDS);
      const shardSeries = await prometheusQuery(`sluice_shard_incoming_records_total{stream="${STREAM}"}`);
      expect(new Set(shardSeries.map((sample) => sample.metric.shard)).size).toBe(shards.length);
      step("prometheus");
    },
    STEP_TIMEOUT_MS * 3,
  );

  it(
    "keeps writing with a node killed; the restarted node catches up to identical logs",
    async () => {
      const node3 = await containerOf("node3");
      await sh(["docker", "kill", node3], STEP_TIMEOUT_MS);
      await putNumbered(clients[0] as StreamsClient, RECORDS, 1_000);
      await putNumbered(clients[1] as StreamsClient, RECORDS + 1_000, 1_000);
      step("writes with node3 killed");

      await sh(["docker", "start", node3], STEP_TIMEOUT_MS);
      await waitHealthy(["node3"]);
      const admin1 = admins[0] as AdminClient;
      // Group 0 (metadata) is not open to the admin API; every shard group is.
      const groupIds = (await admin1.nodeStatus()).groupIds.filter((groupId) => groupId > 0);
      expect(groupIds.length).toBeGreaterThan(1);
      for (const groupId of groupIds) {
        const commitIndex = await waitFor(
          async () => {
            const statuses = await Promise.all(admins.map((admin) => admin.groupStatus(groupId)));
            const commits = new Set(statuses.map((status) => Number(status.commitIndex)));
            const applied = statuses.every((status) => status.appliedIndex === status.commitIndex);
            return commits.size === 1 && applied ? Number(statuses[0]?.commitIndex) : undefined;
          },
          {
            timeoutMs: STEP_TIMEOUT_MS,
            intervalMs: 250,
            what: `group ${groupId} to be applied alike on all three nodes`,
          },
        );
        const checksums = await Promise.all(
          admins.map(async (admin) => (await admin.logChecksum(groupId, commitIndex)).checksum),
        );
        expect(new Set(checksums).size, `group ${groupId} checksums ${checksums.join(", ")}`).toBe(1);
      }
      step("node3 caught up, logs match");
    },
    STEP_TIMEOUT_MS * 3,
  );
});

/** The admin access key from the client.env that `sluice auth init` wrote. */
function parseClientEnv(text: string): { accessKeyId: string; secretAccessKey: string } {
  const values = new Map(
    text
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1).trim()] as const),
  );
  const accessKeyId = values.get("SLUICE_ACCESS_KEY_ID");
  const secretAccessKey = values.get("SLUICE_SECRET_ACCESS_KEY");
  if (accessKeyId === undefined || secretAccessKey === undefined)
    throw new Error(`client.env holds no SLUICE_ACCESS_KEY_ID / SLUICE_SECRET_ACCESS_KEY: ${text}`);
  return { accessKeyId, secretAccessKey };
}
