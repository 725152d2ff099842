// A small interpreter for scripted Raft scenarios in etcd's datadriven style: a file holds
// commands, each followed by `----` and its expected output up to a blank line. Outputs are
// readable traces (Readys handled, messages delivered, statuses) so a reviewer can follow the
// protocol step by step.
import {
  type ConfChange,
  decodeConfChange,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type NodeId,
  type RaftStatus,
  ReadOnlyOption,
  type Ready,
  StateRole,
} from "raft-ts";
import { type NodeOptions, TestCluster, text } from "./cluster.js";

export interface Block {
  /** 1-based line of the command. */
  readonly line: number;
  readonly comments: readonly string[];
  readonly command: string;
  readonly expected: string;
}

/** Splits a scenario file into blocks: comment lines, a command, `----`, output to a blank line. */
export function parseScenario(source: string): Block[] {
  const lines = source.split("\n");
  const blocks: Block[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === "") {
      i++;
      continue;
    }
    if (line.startsWith("#")) {
      comments.push(line);
      i++;
      continue;
    }
    const commandLine = i + 1;
    if (lines[i + 1] !== "----") throw new Error(`line ${commandLine + 1}: expected ---- after the command`);
    i += 2;
    const output: string[] = [];
    while (i < lines.length && (lines[i] as string) !== "") output.push(lines[i++] as string);
    blocks.push({ line: commandLine, comments, command: line, expected: output.join("\n") });
    comments = [];
  }
  return blocks;
}

/** Renders blocks back into a file with the given outputs (for UPDATE_GOLDEN=1). */
export function renderScenario(blocks: readonly Block[], outputs: readonly string[]): string {
  const parts = blocks.map((block, i) =>
    [...block.comments, block.command, "----", outputs[i] ?? ""].join("\n"),
  );
  return `${parts.join("\n\n")}\n`;
}

const MESSAGE_NAMES = new Map<number, string>(
  Object.entries(MessageType).map(([name, value]) => [value, `Msg${name}`]),
);
const ROLE_NAMES = new Map<number, string>(
  Object.entries(StateRole).map(([name, value]) => [value, `State${name}`]),
);
const decoder = new TextDecoder();

function quote(bytes: Uint8Array): string {
  return JSON.stringify(decoder.decode(bytes));
}

export function formatEntry(entry: Entry): string {
  if (entry.type === EntryType.ConfChange) {
    const change = decodeConfChange(entry.data);
    return `${entry.term}/${entry.index} EntryConfChange ${change.type} ${change.nodeId}`;
  }
  return `${entry.term}/${entry.index} EntryNormal ${quote(entry.data)}`;
}

export function formatMessage(m: Message): string {
  let out = `${m.from}->${m.to} ${MESSAGE_NAMES.get(m.type) ?? m.type} Term:${m.term}`;
  switch (m.type) {
    case MessageType.App:
      out += ` Log:${m.logTerm}/${m.index} Commit:${m.commit}`;
      break;
    case MessageType.AppResp:
      out += ` Log:0/${m.index}`;
      if (m.reject) out += ` Rejected (Hint: ${m.rejectHint}/${m.rejectHintTerm})`;
      break;
    case MessageType.Vote:
    case MessageType.PreVote:
      out += ` Log:${m.logTerm}/${m.index}`;
      if (m.context.length > 0) out += " Transfer";
      break;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      if (m.reject) out += " Rejected";
      break;
    case MessageType.Heartbeat:
      out += ` Commit:${m.commit}`;
      break;
    case MessageType.ReadIndexResp:
      out += ` Index:${m.index}`;
      break;
    case MessageType.Snap: {
      const metadata = m.snapshot?.metadata;
      if (metadata !== undefined) {
        out += ` Snapshot: Index:${metadata.index} Term:${metadata.term} Voters:[${metadata.confState.voters.join(" ")}] Learners:[${metadata.confState.learners.join(" ")}]`;
      }
      break;
    }
  }
  if (m.context.length > 0 && m.type !== MessageType.Vote && m.type !== MessageType.PreVote) {
    out += ` Context:${quote(m.context)}`;
  }
  if (m.entries.length > 0) out += ` Entries:[${m.entries.map(formatEntry).join(", ")}]`;
  return out;
}

export function formatReady(ready: Ready): string[] {
  const lines = [`Ready MustSync=${ready.mustSync}:`];
  if (ready.softState !== null) {
    lines.push(`State:${ROLE_NAMES.get(ready.softState.role)} Lead:${ready.softState.leader}`);
  }
  if (ready.hardState !== null) {
    const { term, vote, commit } = ready.hardState;
    lines.push(`HardState Term:${term} Vote:${vote} Commit:${commit}`);
  }
  const section = (title: string, items: readonly string[]): void => {
    if (items.length === 0) return;
    lines.push(`${title}:`);
    lines.push(...items);
  };
  section("Entries", ready.entries.map(formatEntry));
  if (ready.snapshot !== null) {
    const { index, term, confState } = ready.snapshot.metadata;
    lines.push(`Snapshot Index:${index} Term:${term} Voters:[${confState.voters.join(" ")}]`);
  }
  section("Messages", ready.messages.map(formatMessage));
  section("MessagesAfterPersist", ready.messagesAfterPersist.map(formatMessage));
  section("CommittedEntries", ready.committedEntries.map(formatEntry));
  section(
    "ReadStates",
    ready.readStates.map((state) => `Index:${state.index} Context:${quote(state.context)}`),
  );
  return lines;
}

export function formatStatus(status: RaftStatus): string[] {
  const lines = [
    `${status.id}: ${ROLE_NAMES.get(status.role)} Term:${status.term} Vote:${status.vote} Lead:${status.leader} Commit:${status.commit} Applied:${status.applied} Last:${status.lastIndex} Voters:[${status.voters.join(" ")}] Learners:[${status.learners.join(" ")}]${status.transferee !== 0 ? ` Transferee:${status.transferee}` : ""}`,
  ];
  for (const [id, progress] of status.progress) {
    lines.push(
      `  ${id}: ${progress.state} match=${progress.match} next=${progress.next}${progress.isLearner ? " learner" : ""}${progress.pendingSnapshot > 0 ? ` pendingSnapshot=${progress.pendingSnapshot}` : ""}`,
    );
  }
  return lines;
}

/** Runs scenario commands against one TestCluster. */
export class ScenarioRunner {
  private cluster = new TestCluster();
  private options: NodeOptions = {};

  run(command: string): string {
    const [name = "", ...rest] = command.trim().split(/\s+/);
    const positional = rest.filter((arg) => !arg.includes("="));
    const named = new Map(
      rest.filter((arg) => arg.includes("=")).map((arg) => arg.split("=", 2) as [string, string]),
    );
    const ids = positional.map(Number);
    const id = ids[0] ?? 0;
    const out: string[] = [];
    switch (name) {
      case "add-nodes": {
        // add-nodes N [prevote=true] [checkquorum=true] [bootstrap=peers|storage] [max-append-bytes=N] [election=10] [read-only=lease]
        const count = id;
        this.options = {
          preVote: named.get("prevote") !== "false",
          checkQuorum: named.get("checkquorum") !== "false",
          electionTicks: Number(named.get("election") ?? 10),
          ...(named.has("max-append-bytes") ? { maxAppendBytes: Number(named.get("max-append-bytes")) } : {}),
          ...(named.get("read-only") === "lease" ? { readOnlyOption: ReadOnlyOption.LeaseBased } : {}),
        };
        const voters = Array.from({ length: count }, (_, i) => i + 1);
        this.cluster = new TestCluster();
        for (const voter of voters) {
          if (named.get("bootstrap") === "peers") {
            this.cluster.addNode(voter, { voters: [], learners: [] }, { ...this.options, peers: voters });
          } else {
            this.cluster.addNode(voter, { voters, learners: [] }, this.options);
          }
        }
        out.push(...voters.map((voter) => formatStatus(this.cluster.raft(voter).status())[0] as string));
        break;
      }
      case "add-node":
        // A node joining later: it knows no configuration and learns it from the leader.
        this.cluster.addNode(id, { voters: [], learners: [] }, this.options);
        out.push(...formatStatus(this.cluster.raft(id).status()));
        break;
      case "campaign":
        this.cluster.raft(id).campaign();
        break;
      case "propose":
        out.push(this.attempt(() => this.cluster.raft(id).propose(text(positional[1] ?? ""))));
        break;
      case "propose-conf-change": {
        const change: ConfChange = {
          type: positional[1] as ConfChange["type"],
          nodeId: Number(positional[2]),
        };
        out.push(this.attempt(() => this.cluster.raft(id).proposeConfChange(change)));
        break;
      }
      case "transfer-leadership":
        out.push(this.attempt(() => this.cluster.raft(id).transferLeadership(ids[1] ?? 0)));
        break;
      case "read-index":
        out.push(this.attempt(() => this.cluster.raft(id).readIndex(text(positional[1] ?? ""))));
        break;
      case "tick":
        this.cluster.tick(id, ids[1] ?? 1);
        break;
      case "tick-election":
        this.cluster.tick(id, this.options.electionTicks ?? 10);
        break;
      case "tick-heartbeat":
        this.cluster.tick(id, 1);
        break;
      case "process-ready":
        for (const node of ids) out.push(...this.processReady(node));
        break;
      case "deliver-msgs":
        for (const node of ids.length > 0 ? ids : this.ids()) out.push(...this.deliverTo(node));
        break;
      case "drop-msgs": {
        const dropped = this.cluster.inFlight.filter((m) => ids.length === 0 || ids.includes(m.to));
        this.cluster.inFlight = this.cluster.inFlight.filter((m) => !dropped.includes(m));
        out.push(...dropped.map((m) => `dropped: ${formatMessage(m)}`));
        break;
      }
      case "stabilize":
        out.push(...this.stabilize(ids.length > 0 ? ids : this.ids()));
        break;
      case "partition": {
        // partition 1 | 2 3
        const groups = rest
          .join(" ")
          .split("|")
          .map((group) => group.trim().split(/\s+/).map(Number));
        this.cluster.heal();
        this.cluster.partition(...groups);
        break;
      }
      case "restart":
        // Crash and restart from what the node persisted; messages in flight to it are lost.
        this.cluster.restart(id);
        out.push(...formatStatus(this.cluster.raft(id).status()));
        break;
      case "isolate":
        this.cluster.isolate(id);
        break;
      case "heal":
        this.cluster.heal();
        break;
      case "status":
        for (const node of ids.length > 0 ? ids : this.ids())
          out.push(...formatStatus(this.cluster.raft(node).status()));
        break;
      case "log": {
        const storage = this.cluster.get(id).storage;
        const first = storage.firstIndex();
        out.push(`first=${first} last=${storage.lastIndex()} snapshot=${storage.snapshot().metadata.index}`);
        out.push(
          ...storage.entries(first, storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER).map(formatEntry),
        );
        break;
      }
      case "compact": {
        // compact ID INDEX: snapshot the state machine at INDEX and drop the log up to it.
        const node = this.cluster.get(id);
        const index = ids[1] ?? 0;
        node.storage.createSnapshot(index, node.confState, text(`state@${index}`));
        node.storage.compact(index);
        out.push(`first=${node.storage.firstIndex()} last=${node.storage.lastIndex()}`);
        break;
      }
      case "report-snapshot":
        this.cluster.raft(id).reportSnapshot(ids[1] ?? 0, positional[2] !== "fail");
        break;
      case "applied":
        out.push(this.cluster.appliedText(id).join(" "));
        break;
      default:
        throw new Error(`unknown command ${name}`);
    }
    return out.length > 0 ? out.join("\n") : "ok";
  }

  private ids(): NodeId[] {
    return [...this.cluster.nodes.keys()].sort((a, b) => a - b);
  }

  private attempt(action: () => unknown): string {
    try {
      const result = action();
      return result === undefined ? "ok" : JSON.stringify(result);
    } catch (error) {
      const typed = error as { name?: string; message?: string };
      return `error: ${typed.name}: ${typed.message}`;
    }
  }

  private processReady(id: NodeId): string[] {
    const ready = this.cluster.processReady(id);
    if (ready === null) return [];
    return [`> ${id} handling Ready`, ...formatReady(ready).map((line) => `  ${line}`)];
  }

  private deliverTo(id: NodeId): string[] {
    const delivered = this.cluster.deliverTo(id);
    if (delivered.length === 0) return [];
    return [
      `> ${id} receiving messages`,
      ...delivered.map(({ message, dropped }) => `  ${formatMessage(message)}${dropped ? " DROPPED" : ""}`),
    ];
  }

  private stabilize(ids: readonly NodeId[]): string[] {
    const out: string[] = [];
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const id of ids) {
        for (;;) {
          const lines = this.processReady(id);
          if (lines.length === 0) break;
          out.push(...lines);
          moved = true;
        }
      }
      for (const id of ids) {
        const lines = this.deliverTo(id);
        if (lines.length > 0) {
          out.push(...lines);
          moved = true;
        }
      }
      if (!moved) return out;
    }
    throw new Error("scenario did not stabilize");
  }
}
