// Calling whatsapp-grpc from Node: @grpc/grpc-js, @grpc/proto-loader (the .proto files loaded at
// run time, no generated code), and protobufjs (already proto-loader's) for the google.rpc details.
// example.mjs runs each function against a running service; examples.test.mjs asserts them.

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const PROTO = fileURLToPath(new URL('../../proto', import.meta.url));

// Every call carries a deadline: without one a call to a stuck upstream waits forever. The service
// reads it (`grpc-timeout`) and stops its own work a little before, so the caller gets its answer.
export const TIMEOUT_MS = 10_000;

// Fields in lowerCamelCase (`messageId`, `requestId`), enums as their names, 64-bit integers as
// strings, unset scalars as their defaults, and `content`/`kind` oneofs say which member is set.
const LOAD_OPTIONS = {
  includeDirs: [PROTO],
  keepCase: false,
  enums: String,
  longs: String,
  defaults: true,
  oneofs: true,
};

/** The `whatsapp.v1` package as the .proto file `file` (in proto/) defines it. */
function load(file) {
  return grpc.loadPackageDefinition(protoLoader.loadSync(file, LOAD_OPTIONS)).whatsapp.v1;
}

export const { MessagingService } = load('whatsapp/v1/messaging_service.proto');
export const { MediaService } = load('whatsapp/v1/media_service.proto');
export const { EventService } = load('whatsapp/v1/event_service.proto');

/**
 * A client of `Service`: MessagingService unless another is named (MediaService for uploads and
 * downloads, EventService for StreamEvents). Plaintext, as `serve --sandbox` listens;
 * grpc.credentials.createSsl(ca) for TLS.
 */
export function connect(address, Service = MessagingService) {
  return new Service(address, grpc.credentials.createInsecure());
}

/**
 * Receives the events of consumer group `group` (EventService.StreamEvents), calls
 * `handle(event)` for each and acknowledges it after; once `handle` returns true, half-closes the
 * stream (the server reads the acknowledgements sent before, releases what is still outstanding
 * to the group, and ends the stream). Resolves to true then, to false when the stream ended first
 * (its deadline): a subscriber that keeps going opens a new one. An event may come twice
 * (redelivered when its acknowledgement was missed): handle it idempotently, by `event.eventId`.
 */
export function subscribe(events, group, handle, { ackDeadlineSeconds = 60, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const call = events.StreamEvents(new grpc.Metadata(), { deadline: Date.now() + timeoutMs });
    let done = false;
    call.write({ consumerGroup: group, ackDeadlineSeconds });
    call.on('data', ({ receivedEvents }) => {
      if (done) return; // sent before the server read the half-close: released, not acknowledged
      const ackIds = [];
      for (const { ackId, event } of receivedEvents) {
        done = handle(event) === true;
        ackIds.push(ackId);
        if (done) break;
      }
      call.write({ ackIds });
      if (done) call.end();
    });
    call.on('end', () => resolve(done));
    call.on('error', (error) => (error.code === grpc.status.DEADLINE_EXCEEDED ? resolve(done) : reject(error)));
  });
}

/** `sent`, `delivered`, `read`, `failed`… of a status event; undefined for another event. */
export function statusName(event) {
  return event.kind === 'status' ? event.status.status.replace('DELIVERY_STATUS_', '').toLowerCase() : undefined;
}

/**
 * The statuses of message `messageId` received by `group`, in order, once every one of `wanted`
 * came (or the stream's deadline passed); every event received is acknowledged.
 */
export async function waitForStatuses(events, group, messageId, wanted = ['sent', 'delivered', 'read'], options) {
  const seen = [];
  await subscribe(
    events,
    group,
    (event) => {
      if (event.kind === 'status' && event.status.messageId === messageId) seen.push(statusName(event));
      return wanted.every((status) => seen.includes(status));
    },
    options,
  );
  return seen;
}

// Uploads stream in chunks of at most 1 MiB; 256 KiB keeps little of the file in memory at once.
const UPLOAD_CHUNK_BYTES = 256 * 1024;

/**
 * Uploads the file at `path` through MediaService.UploadMedia: the first message carries the
 * metadata (type, name, size), the next ones the bytes, read a chunk at a time (waiting for the
 * stream to drain). Resolves to the UploadMediaResponse; its `mediaId` goes in a media message's
 * `id`.
 */
export async function uploadMedia(media, path, mimeType, { timeoutMs = 60_000 } = {}) {
  const { size } = await stat(path);
  let call;
  const answered = new Promise((resolve, reject) => {
    call = media.UploadMedia(new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
  // The service may answer before the last chunk (a refused type, say): stop writing then.
  let done = false;
  const finished = answered.then(
    () => (done = true),
    () => (done = true),
  );
  call.write({ metadata: { mimeType, fileName: basename(path), sizeBytes: String(size) } });
  for await (const chunk of createReadStream(path, { highWaterMark: UPLOAD_CHUNK_BYTES })) {
    if (done) break;
    if (!call.write({ chunk })) await Promise.race([once(call, 'drain'), finished]);
  }
  call.end();
  return answered;
}

/** An image message naming an uploaded media id (instead of a public link). */
export async function sendImage(client, to, mediaId, caption = '', options) {
  return (await call(client, 'SendMessage', { to, image: { id: mediaId, caption } }, options)).response;
}

/**
 * Downloads an uploaded media: `{ mimeType, bytes }`. The first message is the metadata, then the
 * bytes in chunks of at most 256 KiB.
 */
export async function downloadMedia(media, mediaId, { timeoutMs = 60_000 } = {}) {
  const stream = media.DownloadMedia({ mediaId }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs });
  let mimeType = '';
  const chunks = [];
  for await (const message of stream) {
    if (message.part === 'metadata') mimeType = message.metadata.mimeType;
    else chunks.push(message.chunk);
  }
  return { mimeType, bytes: Buffer.concat(chunks) };
}

/**
 * One unary call as a promise of `{ response, metadata }` (the answer's headers), rejected with the
 * grpc-js error (`code`, `details`, `metadata`) on failure.
 */
export function call(client, method, request, { timeoutMs = TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    const pending = client[method](
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, response) => (error ? reject(error) : resolve({ response, metadata: headers })),
    );
    pending.on('metadata', (metadata) => {
      headers = metadata;
    });
  });
}

/** A text message; resolves to the SendMessageResponse (`messageId` is `wamid.…`). */
export async function sendText(client, to, body, options) {
  return (await call(client, 'SendMessage', { to, text: { body } }, options)).response;
}

/** An approved template, its body's variables filled in order ({{1}}, {{2}}, …). */
export async function sendTemplate(client, to, name, language, bodyParameters, options) {
  const template = {
    name,
    language: { code: language },
    components: [{ body: { parameters: bodyParameters.map((text) => ({ text })) } }],
  };
  return (await call(client, 'SendMessage', { to, template }, options)).response;
}

/** An interactive list: a button that opens a menu of rows in sections. */
export async function sendList(client, to, options) {
  const list = {
    header: { text: 'Delivery' },
    body: { text: 'When should we deliver your order?' },
    footer: { text: 'You can change it later' },
    button: 'Choose a slot',
    sections: [
      {
        title: 'Tomorrow',
        rows: [
          { id: 'tomorrow-am', title: 'Morning', description: '8:00-12:00' },
          { id: 'tomorrow-pm', title: 'Afternoon', description: '12:00-18:00' },
        ],
      },
    ],
  };
  return (await call(client, 'SendMessage', { to, interactive: { list } }, options)).response;
}

/** Marks a received message as read (with a typing indicator on the Cloud API if asked). */
export async function markRead(client, messageId, { typing = false, ...options } = {}) {
  const request = { messageId };
  if (typing) request.typingIndicator = { type: 'TYPING_INDICATOR_TYPE_TEXT' };
  return (await call(client, 'MarkMessageRead', request, options)).response;
}

/**
 * SendMessage and whether the answer was replayed: an answer the service gives again for a known
 * `requestId` carries the header `replayed: true` (the message was not sent again).
 */
export async function sendOnce(client, request, options) {
  const { response, metadata } = await call(client, 'SendMessage', request, options);
  return { response, replayed: metadata.get('replayed').includes('true') };
}

// Worth retrying with the same requestId: the service answers these when the message was not sent
// or when it cannot know (the same requestId makes the retry safe: it is never sent twice).
const RETRYABLE = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.UNKNOWN,
]);

/**
 * Sends with retries: one requestId (a UUID) for every attempt, so the service sends the message at
 * most once and answers a retry of a sent message with the first answer. Waits what the service's
 * RetryInfo says (at most maxDelayMs), else a short backoff.
 */
export async function sendReliably(client, request, { attempts = 3, maxDelayMs = 30_000, ...options } = {}) {
  request.requestId ||= randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await sendOnce(client, request, options);
    } catch (error) {
      if (!RETRYABLE.has(error.code) || attempt >= attempts) throw error;
      const { retryDelayMs } = errorDetails(error);
      const delay = retryDelayMs ?? 200 * 2 ** attempt;
      if (delay > maxDelayMs) throw error;
      await sleep(delay);
    }
  }
}

// The google.rpc messages this service puts in its statuses, defined with protobufjs (which
// proto-loader already uses): their googleapis .proto files are not in proto/, and these few lines
// spare a package of every Google API's protos. Field numbers as in google/rpc/status.proto and
// google/rpc/error_details.proto; Any and Duration are protobufjs's bundled well-known types.
const GOOGLE_RPC = protobuf.parse(`
  syntax = "proto3";
  package google.rpc;
  message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
  message BadRequest {
    message FieldViolation { string field = 1; string description = 2; string reason = 3; }
    repeated FieldViolation field_violations = 1;
  }
  message ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
  message RetryInfo { google.protobuf.Duration retry_delay = 1; }
`, { keepCase: true }).root; // field names as in the .proto, like the bundled Any's `type_url`
GOOGLE_RPC.addJSON(protobuf.common.get('google/protobuf/any.proto').nested);
GOOGLE_RPC.addJSON(protobuf.common.get('google/protobuf/duration.proto').nested);
const Status = GOOGLE_RPC.lookupType('google.rpc.Status');

/**
 * grpc-js passes the status message on as it reads it from `grpc-message`, where a few characters
 * may stay percent-encoded (`(%23130429) Rate limit hit` for `(#130429) …`): it decodes with
 * decodeURI, which leaves the escapes of `#$&+,/:;=?@`. Those are decoded here. The message inside
 * `grpc-status-details-bin` is binary and exact: errorDetails prefers it.
 */
export function readableMessage(message) {
  return message.replace(/%(2[346BCF]|3[ABDF]|40)/gi, (escape) => decodeURIComponent(escape));
}

/**
 * The google.rpc details of a failed call: the `google.rpc.Status` in the trailer
 * `grpc-status-details-bin`, its BadRequest, ErrorInfo and RetryInfo read into plain fields.
 */
export function errorDetails(error) {
  const details = {
    code: error.code,
    message: readableMessage(error.details ?? ''),
    violations: [], // { field, reason, description } of each BadRequest field violation
    reason: '', // ErrorInfo: the API's error code or the service's own reason
    domain: '',
    metadata: {}, // ErrorInfo metadata: `outcome` (`not_sent` or `unknown`), …
    retryDelayMs: undefined, // RetryInfo.retry_delay, when the service says when to retry
  };
  const [bytes] = error.metadata?.get('grpc-status-details-bin') ?? [];
  if (!bytes) return details; // a status without details, e.g. the client's own deadline
  const status = Status.decode(bytes);
  details.message = status.message;
  for (const { type_url: typeUrl, value } of status.details) {
    const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    if (name === 'google.rpc.BadRequest') {
      const badRequest = GOOGLE_RPC.lookupType(name).decode(value);
      details.violations.push(
        ...badRequest.field_violations.map(({ field, reason, description }) => ({ field, reason, description })),
      );
    } else if (name === 'google.rpc.ErrorInfo') {
      const { reason, domain, metadata } = GOOGLE_RPC.lookupType(name).decode(value);
      Object.assign(details, { reason, domain, metadata: { ...metadata } });
    } else if (name === 'google.rpc.RetryInfo') {
      const { retry_delay: delay } = GOOGLE_RPC.lookupType(name).decode(value);
      details.retryDelayMs = Number(delay?.seconds ?? 0) * 1000 + Math.round((delay?.nanos ?? 0) / 1e6);
    }
  }
  return details;
}
