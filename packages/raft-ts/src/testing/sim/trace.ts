import type { Entry, Message, Ready } from "../../types.js";
import { MessageType } from "../../types.js";

/**
 * The trace of a simulated run: one line per event. Recording is off in normal runs (formatting
 * strings would dominate the cost); a failing seed is replayed with tracing on, which the
 * determinism of the whole simulation makes exact. The recorder keeps the last `limit` lines.
 */
export class TraceRecorder {
  readonly enabled: boolean;
  private readonly limit: number;
  private readonly lines: string[] = [];
  private start = 0;
  /** Lines are also written here as they are recorded (the CLI's --trace streams them). */
  private readonly sink: ((line: string) => void) | null;

  constructor(options: { enabled: boolean; limit?: number; sink?: (line: string) => void }) {
    this.enabled = options.enabled;
    this.limit = options.limit ?? 400;
    this.sink = options.sink ?? null;
  }

  record(step: number, line: string): void {
    if (!this.enabled) return;
    const text = `#${step} ${line}`;
    this.sink?.(text);
    if (this.lines.length < this.limit) {
      this.lines.push(text);
    } else {
      this.lines[this.start] = text;
      this.start = (this.start + 1) % this.limit;
    }
  }

  /** The recorded lines, oldest first. */
  snapshot(): string[] {
    return [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)];
  }
}

const MESSAGE_NAMES: Record<number, string> = {};
for (const [name, code] of Object.entries(MessageType)) MESSAGE_NAMES[code] = name;

export function messageTypeName(type: number): string {
  return MESSAGE_NAMES[type] ?? `Type${type}`;
}

export function formatEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return "[]";
  const first = entries[0]!;
  const last = entries[entries.length - 1]!;
  if (entries.length <= 4) return `[${entries.map((e) => `${e.index}@${e.term}`).join(" ")}]`;
  return `[${first.index}@${first.term}..${last.index}@${last.term} (${entries.length})]`;
}

export function formatMessage(m: Message): string {
  const parts = [`${messageTypeName(m.type)} ${m.from}->${m.to} t${m.term}`];
  switch (m.type) {
    case MessageType.App:
      parts.push(`prev ${m.index}@${m.logTerm} ${formatEntries(m.entries)} c${m.commit}`);
      break;
    case MessageType.AppResp:
      parts.push(m.reject ? `REJECT ${m.index} hint ${m.rejectHint}@${m.rejectHintTerm}` : `ok ${m.index}`);
      break;
    case MessageType.Vote:
    case MessageType.PreVote:
      parts.push(`last ${m.index}@${m.logTerm}`);
      break;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      parts.push(m.reject ? "REJECT" : "GRANT");
      break;
    case MessageType.Heartbeat:
      parts.push(`c${m.commit}`);
      break;
    case MessageType.Snap:
      if (m.snapshot) parts.push(`snap ${m.snapshot.metadata.index}@${m.snapshot.metadata.term}`);
      break;
    default:
      if (m.reject) parts.push("reject");
  }
  return parts.join(" ");
}

export function formatReady(rd: Ready): string {
  const parts: string[] = [];
  if (rd.softState) parts.push(`soft{leader ${rd.softState.leader} role ${rd.softState.role}}`);
  if (rd.hardState) parts.push(`hard{t${rd.hardState.term} v${rd.hardState.vote} c${rd.hardState.commit}}`);
  if (rd.snapshot) parts.push(`snap ${rd.snapshot.metadata.index}@${rd.snapshot.metadata.term}`);
  if (rd.entries.length > 0) parts.push(`entries ${formatEntries(rd.entries)}`);
  if (rd.committedEntries.length > 0) parts.push(`apply ${formatEntries(rd.committedEntries)}`);
  if (rd.messages.length > 0) parts.push(`send ${rd.messages.length}`);
  if (rd.messagesAfterPersist.length > 0) parts.push(`send-after-persist ${rd.messagesAfterPersist.length}`);
  return parts.join(" ");
}
