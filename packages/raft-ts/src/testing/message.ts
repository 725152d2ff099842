import type { Message } from "../types.js";

const EMPTY_CONTEXT = new Uint8Array(0);

/**
 * A Message with every field a test does not name set to its zero value (0, false, empty, null),
 * for stepping hand-made RPCs into a node or feeding them to a codec or a checker.
 */
export function testMessage(fields: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    rejectHintTerm: 0,
    snapshot: null,
    context: EMPTY_CONTEXT,
    ...fields,
  };
}
