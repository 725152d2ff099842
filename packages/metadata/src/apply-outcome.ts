/** What applying one command produced (a type of its own so that apply.ts and groups/apply.ts share it without a cycle). */
import type { CommandResult } from "./commands.js";
import type { MetadataState } from "./state.js";

export interface ApplyOutcome {
  readonly state: MetadataState;
  readonly result: CommandResult;
  /** Names of the streams whose entry changed (added, changed or removed). */
  readonly changedStreams: readonly string[];
}
