/**
 * StartStreamEncryption and StopStreamEncryption (Kinesis): the gateway that takes the call makes
 * the stream's new data key, wraps it with the master key KeyId names (this node's key file), and
 * commits it to the metadata (SetStreamEncryption); every node seals the stream's new records with
 * it as soon as it applies the change. The stream stays ACTIVE: the change is one metadata
 * command, in force once applied (Kinesis shows UPDATING for the seconds KMS takes).
 *
 * Errors: ValidationError (EncryptionType not KMS/NONE, KeyId missing or over 2048 characters),
 * InvalidArgumentError (EncryptionType NONE), ResourceNotFound, ResourceInUse (not ACTIVE),
 * KmsNotFoundError (KeyId names no master key), KmsKeyUnavailableError (no key file here),
 * LimitExceeded (STREAM_DATA_KEYS_MAX). A refused call changes nothing.
 */
import type { MetadataService } from "@sluice/metadata";
import type { streams } from "@sluice/proto";
import { InvalidArgumentError, ValidationError } from "../errors.js";
import type { StreamLookup } from "../server/stream-lookup.js";
import * as validate from "../validation.js";
import { ENCRYPTION_TYPE_KMS, ENCRYPTION_TYPE_NONE, KEY_ID_LENGTH_MAX } from "./constants.js";
import type { StreamKeys } from "./stream-keys.js";

/** The parts the encryption operations need. */
export interface EncryptionParts {
  readonly lookup: StreamLookup;
  readonly metadata: Pick<MetadataService, "setStreamEncryption">;
  readonly keys: StreamKeys;
}

interface EncryptionRequest {
  readonly streamName: string;
  readonly streamArn: string;
  readonly encryptionType: string;
  readonly keyId: string;
}

function validateEncryptionRequest(request: EncryptionRequest): void {
  validate.validateStreamRef(request);
  if (request.encryptionType !== ENCRYPTION_TYPE_KMS && request.encryptionType !== ENCRYPTION_TYPE_NONE) {
    throw new ValidationError(
      `EncryptionType must be ${ENCRYPTION_TYPE_KMS} or ${ENCRYPTION_TYPE_NONE}, got ${JSON.stringify(request.encryptionType)}`,
    );
  }
  if (request.keyId.length < 1 || request.keyId.length > KEY_ID_LENGTH_MAX) {
    throw new ValidationError(`KeyId is required: 1 to ${KEY_ID_LENGTH_MAX} characters`);
  }
  if (request.encryptionType !== ENCRYPTION_TYPE_KMS) {
    throw new InvalidArgumentError(
      `EncryptionType must be ${ENCRYPTION_TYPE_KMS}: the only encryption streams have`,
    );
  }
}

/** The StartStreamEncryption operation (see the file's comment). */
export async function startStreamEncryption(
  parts: EncryptionParts,
  request: streams.StartStreamEncryptionRequest,
): Promise<streams.StartStreamEncryptionResponse> {
  validateEncryptionRequest(request);
  const stream = await parts.lookup.stream(
    { streamName: request.streamName || undefined, streamArn: request.streamArn || undefined },
    { consistent: true },
  );
  const { masterKeyId, wrappedKey } = parts.keys.newDataKey(request.keyId);
  await parts.metadata.setStreamEncryption({
    streamName: stream.streamName,
    enable: true,
    keyId: request.keyId,
    masterKeyId,
    wrappedKey,
  });
  return {};
}

/** The StopStreamEncryption operation: new records are plaintext again (a no-op when they are). */
export async function stopStreamEncryption(
  parts: EncryptionParts,
  request: streams.StopStreamEncryptionRequest,
): Promise<streams.StopStreamEncryptionResponse> {
  validateEncryptionRequest(request);
  const stream = await parts.lookup.stream(
    { streamName: request.streamName || undefined, streamArn: request.streamArn || undefined },
    { consistent: true },
  );
  await parts.metadata.setStreamEncryption({ streamName: stream.streamName, enable: false });
  return {};
}
