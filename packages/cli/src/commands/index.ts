/** The client-side commands of `sluice`: stream, put, tail, analytics (each one concept, one file). */
export { ANALYTICS_HELP, runAnalyticsCommand } from "./analytics.js";
export { compileKeyTemplate, PUT_HELP, runPutCommand } from "./put.js";
export { runStreamCommand, STREAM_HELP } from "./stream.js";
export { runTailCommand, TAIL_HELP } from "./tail.js";
