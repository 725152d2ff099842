/**
 * `sluice node`: parses the configuration, starts the node, and turns signals into a graceful
 * shutdown. A node that cannot start prints exactly one line on stderr (no stack trace) and
 * exits with status 2 when the cause is its configuration or environment.
 */
import { setFlagsFromString } from "node:v8";
import { EXIT_CONFIG, EXIT_SHUTDOWN_FAILED } from "../constants.js";
import { NODE_USAGE, parseNodeConfig } from "./config.js";
import { StartupError } from "./errors.js";
import { createJsonLogger } from "./logger.js";
import { type OpenHost, startNode } from "./node.js";
import { openStreamsHost } from "./streams-host.js";

export async function runNodeCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  openHost: OpenHost = openStreamsHost,
): Promise<number> {
  if (env.SLUICE_GC_TUNING !== "off") tuneGarbageCollector();
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(NODE_USAGE);
    return 0;
  }
  let config: ReturnType<typeof parseNodeConfig>;
  try {
    config = parseNodeConfig(argv, env);
  } catch (error) {
    return reportStartFailure(error);
  }
  const log = createJsonLogger({ level: config.logLevel, base: { node: config.nodeId, zone: config.zone } });
  let node: Awaited<ReturnType<typeof startNode>>;
  try {
    node = await startNode(config, log, openHost);
  } catch (error) {
    return reportStartFailure(error);
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      log.warn("second signal during shutdown: exiting now", { signal });
      process.exit(EXIT_SHUTDOWN_FAILED);
    }
    void node.stop(signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  process.on("uncaughtException", (error) => {
    log.error("uncaught exception", { error, stack: error.stack });
    process.exit(EXIT_SHUTDOWN_FAILED);
  });
  process.on("unhandledRejection", (reason) => {
    log.error("unhandled rejection", {
      error: reason,
      stack: reason instanceof Error ? reason.stack : undefined,
    });
    process.exit(EXIT_SHUTDOWN_FAILED);
  });
  const { clean } = await node.stopped;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  return clean ? 0 : EXIT_SHUTDOWN_FAILED;
}

/** One line on stderr: the configuration's fault exits 2, anything else 1. */
function reportStartFailure(error: unknown): number {
  if (error instanceof StartupError) {
    process.stderr.write(`sluice node: ${error.message}\n`);
    return EXIT_CONFIG;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`sluice node: failed to start: ${message.replaceAll("\n", " ")}\n`);
  return EXIT_SHUTDOWN_FAILED;
}

/**
 * A node turns over a few hundred MB/s of large buffers (peer frames, entries, socket reads), all
 * V8 "external" memory, most of it short-lived. By default V8 schedules a full mark-compact each
 * time external memory grows by a fixed step, whatever the heap's size: most of a node's GC time.
 * Counted in V8's global limit instead, which grows with the heap, full collections are rarer:
 * node CPU per MiB committed fell by a third in the broker bench, and resident memory under load
 * rose by about as much (storage README, "Performance"). `SLUICE_GC_TUNING=off` keeps V8's
 * default. Set at run time, before the node allocates its buffers.
 */
function tuneGarbageCollector(): void {
  setFlagsFromString("--external-memory-accounted-in-global-limit");
}
