/** Sequence numbers are ordered by the SDK's comparison (decimal strings, no BigInt). */
export { compareSequenceNumbers } from "@sluice/client";
