// The Node examples against the real binary: `whatsapp-grpc serve --sandbox` on a port the OS
// picks, read from its JSON "serving" log line.
// Run: WHATSAPP_GRPC_BINARY=../../target/debug/whatsapp-grpc node --test examples.test.mjs
// (the binary defaults to target/debug/whatsapp-grpc of this repository).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import grpc from '@grpc/grpc-js';

import {
  EventService,
  MediaService,
  connect,
  downloadMedia,
  errorDetails,
  markRead,
  readableMessage,
  sendImage,
  sendList,
  sendOnce,
  sendReliably,
  sendTemplate,
  sendText,
  subscribe,
  uploadMedia,
  waitForStatuses,
} from './client.mjs';

const BINARY =
  process.env.WHATSAPP_GRPC_BINARY || fileURLToPath(new URL('../../target/debug/whatsapp-grpc', import.meta.url));
const CUSTOMER = '15550001111';
const STARTUP_MS = 30_000;

let service;
let client;
let media;
let events;

/** Starts the binary and resolves to the fields of its "whatsapp-grpc serving" log line. */
function serve() {
  accessSync(BINARY, constants.X_OK); // a missing binary fails here, naming the path
  // With a webhook listener, the sandbox posts the status webhooks of each send to it.
  const args = ['serve', '--sandbox', '--listen', '127.0.0.1:0', '--log-format', 'json', '--webhook-listen', '127.0.0.1:0'];
  service = spawn(BINARY, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      RUST_LOG: 'info',
      WHATSAPP_GRPC_APP_SECRET: 'example-app-secret',
      WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN: 'example-verify-token',
    },
  });
  const seen = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no 'whatsapp-grpc serving' line within ${STARTUP_MS} ms:\n${seen.join('\n')}`)),
      STARTUP_MS,
    );
    service.on('error', reject);
    service.on('exit', (code) => reject(new Error(`the service exited with ${code}:\n${seen.join('\n')}`)));
    // Reads stderr for the process's whole life, so its logging never blocks on a full pipe.
    createInterface({ input: service.stderr }).on('line', (line) => {
      seen.push(line);
      let record;
      try {
        record = JSON.parse(line);
      } catch {
        return;
      }
      const fields = record.fields ?? record;
      if (fields.message === 'whatsapp-grpc serving') {
        clearTimeout(timer);
        resolve(fields);
      }
    });
  });
}

before(async () => {
  const serving = await serve();
  client = connect(serving.listen);
  media = connect(serving.listen, MediaService);
  events = connect(serving.listen, EventService);
});

after(async () => {
  client?.close();
  media?.close();
  events?.close();
  if (service && service.exitCode === null && service.signalCode === null) {
    const exited = new Promise((resolve) => service.once('exit', resolve));
    service.kill('SIGTERM');
    const timer = setTimeout(() => service.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
});

/** The call's error; fails the test if the call succeeded. */
function failed(promise) {
  return promise.then(
    (response) => assert.fail(`the call succeeded: ${JSON.stringify(response)}`),
    (error) => error,
  );
}

/** The errorDetails of the call's failure. */
async function failure(promise) {
  return errorDetails(await failed(promise));
}

test('sends a text', async () => {
  const sent = await sendText(client, CUSTOMER, 'Your order has shipped');
  assert.match(sent.messageId, /^wamid\./);
  assert.equal(sent.waId, CUSTOMER);
  assert.equal(sent.sender, 'default');
});

test('sends a template with parameters', async () => {
  const sent = await sendTemplate(client, CUSTOMER, 'order_update', 'en_US', ['Ana', '#1234']);
  assert.match(sent.messageId, /^wamid\./);
});

test('sends an interactive list', async () => {
  const sent = await sendList(client, CUSTOMER);
  assert.match(sent.messageId, /^wamid\./);
});

test('marks a message read', async () => {
  const sent = await sendText(client, CUSTOMER, 'hello');
  assert.deepEqual(await markRead(client, sent.messageId, { typing: true }), {});
});

test('a retry with the same requestId is replayed', async () => {
  const request = { to: CUSTOMER, text: { body: 'Sent once' }, requestId: randomUUID() };
  const first = await sendOnce(client, request);
  const retry = await sendOnce(client, request);
  assert.match(first.response.messageId, /^wamid\./);
  assert.equal(first.replayed, false);
  assert.equal(retry.replayed, true);
  assert.equal(retry.response.messageId, first.response.messageId);
});

test('sendReliably gives every attempt one requestId', async () => {
  const request = { to: CUSTOMER, text: { body: 'hello' } };
  const first = await sendReliably(client, request);
  assert.match(request.requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const again = await sendReliably(client, request);
  assert.equal(again.replayed, true);
  assert.equal(again.response.messageId, first.response.messageId);
});

test('a deadline the answer cannot meet', async () => {
  // The sandbox's slow recipient answers after 30 s.
  const details = await failure(sendText(client, '15550000408', 'hello', { timeoutMs: 1000 }));
  assert.equal(details.code, grpc.status.DEADLINE_EXCEEDED);
});

test('an empty text reads BadRequest details', async () => {
  const details = await failure(sendText(client, CUSTOMER, ''));
  assert.equal(details.code, grpc.status.INVALID_ARGUMENT);
  assert.deepEqual(
    details.violations.map(({ field, reason }) => ({ field, reason })),
    [{ field: 'text.body', reason: 'REQUIRED' }],
  );
  assert.ok(details.violations[0].description, 'each violation has a description');
});

test('a rate-limited recipient reads ErrorInfo and RetryInfo', async () => {
  // With less time left than the API's Retry-After (7 s), the service answers at once; with more,
  // it waits and tries again first.
  const error = await failed(sendText(client, '15550000429', 'hello', { timeoutMs: 5000 }));
  const details = errorDetails(error);
  assert.equal(details.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(details.reason, '130429');
  assert.equal(details.metadata.outcome, 'not_sent');
  assert.equal(details.retryDelayMs, 7000);
  // The API's `(#130429) Rate limit hit` reads `error 130429: Rate limit hit`: the code once, and
  // no `#`, which grpc-js would leave as `%23`.
  assert.match(details.message, /error 130429: Rate limit hit/);
  assert.doesNotMatch(details.message, /#|%23/);
  // grpc-js's own copy of the message reads the same, with nothing left to decode.
  assert.equal(error.details, details.message);
  assert.equal(readableMessage(error.details), details.message);
});

test('status messages are readable whatever grpc-js left encoded', () => {
  assert.equal(readableMessage('(%23130429) Rate limit hit'), '(#130429) Rate limit hit');
  assert.equal(readableMessage('a%2Fb%3Fc%40d 100%'), 'a/b?c@d 100%');
});

test('uploads an image, then sends it by its media id', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'whatsapp-media-')), 'photo.png');
  const data = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(300 * 1024, 7)]);
  writeFileSync(path, data);
  const uploaded = await uploadMedia(media, path, 'image/png');
  assert.ok(uploaded.mediaId, JSON.stringify(uploaded));
  assert.equal(uploaded.sizeBytes, String(data.length));
  assert.equal(uploaded.kind, 'MEDIA_KIND_IMAGE');
  const sent = await sendImage(client, CUSTOMER, uploaded.mediaId, 'Your receipt');
  assert.match(sent.messageId, /^wamid\./);
  const downloaded = await downloadMedia(media, uploaded.mediaId);
  assert.equal(downloaded.mimeType, 'image/png');
  assert.ok(downloaded.bytes.equals(data));
});

test('an upload of a type the API refuses names the field', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'whatsapp-media-')), 'funny.gif');
  writeFileSync(path, 'GIF89a');
  const details = await failure(uploadMedia(media, path, 'image/gif'));
  assert.equal(details.code, grpc.status.INVALID_ARGUMENT);
  assert.deepEqual(
    details.violations.map(({ field }) => field),
    ['metadata.mime_type'],
  );
});

test('a sent message comes back as its statuses on the event stream', async () => {
  const sent = await sendText(client, CUSTOMER, 'Your order has shipped');
  const group = `node-${randomUUID().slice(0, 8)}`;
  assert.deepEqual(await waitForStatuses(events, group, sent.messageId), ['sent', 'delivered', 'read']);
  // Acknowledged: a new stream of the group gets none of them again, only what comes next.
  const later = await sendText(client, CUSTOMER, 'And here is your receipt');
  const seen = [];
  const finished = await subscribe(events, group, (event) => {
    seen.push(event.eventId);
    return event.eventId === `status/${later.messageId}/read`;
  });
  assert.equal(finished, true);
  assert.ok(!seen.some((id) => id.includes(sent.messageId)), seen.join(' '));
  assert.deepEqual(
    seen.filter((id) => id.includes(later.messageId)),
    ['sent', 'delivered', 'read'].map((status) => `status/${later.messageId}/${status}`),
  );
});
