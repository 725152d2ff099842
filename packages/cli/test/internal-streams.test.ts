// Proves that every stream name the cluster keeps for itself (delivery and analytics definitions,
// a Firehose DirectPut input, an application's state) is one the gateway leaves out of ListStreams,
// and that a user's stream names are not.
import { constants as analytics } from "@sluice/analytics";
import { constants as delivery } from "@sluice/delivery";
import { isInternalStreamName } from "@sluice/gateway";
import { describe, expect, it } from "vitest";

describe("internal stream names", () => {
  it("covers every name and prefix the delivery and analytics packages create streams with", () => {
    for (const name of [
      delivery.DEFINITIONS_STREAM_NAME,
      `${delivery.DIRECT_PUT_STREAM_PREFIX}orders`,
      analytics.DEFINITIONS_STREAM_NAME,
      `${analytics.STATE_STREAM_PREFIX}counts-0123abcd`,
    ]) {
      expect(isInternalStreamName(name), name).toBe(true);
    }
  });

  it("leaves a user's streams listed, underscores and all", () => {
    for (const name of ["orders", "_orders", "__orders", "sluice-orders", "firehose-x", "analytics-state"]) {
      expect(isInternalStreamName(name), name).toBe(false);
    }
  });
});
