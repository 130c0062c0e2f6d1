// Runs every example against a running service (`cargo run -- serve --sandbox`).
// Usage: node example.mjs [ADDRESS]   (default 127.0.0.1:50051)

import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import grpc from '@grpc/grpc-js';

import {
  EventService,
  MediaService,
  connect,
  errorDetails,
  markRead,
  sendImage,
  sendList,
  sendOnce,
  sendTemplate,
  sendText,
  uploadMedia,
  waitForStatuses,
} from './client.mjs';

// Recipients the sandbox answers specially (see the README's "The sandbox").
const CUSTOMER = '15550001111';
const RATE_LIMITED = '15550000429';
const SLOW = '15550000408';

const codeName = (code) => Object.keys(grpc.status).find((name) => grpc.status[name] === code);

async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    return errorDetails(error);
  }
  throw new Error('the call succeeded');
}

const address = process.argv[2] ?? '127.0.0.1:50051';
const client = connect(address);
const media = connect(address, MediaService);
const events = connect(address, EventService);
try {
  let sent = await sendText(client, CUSTOMER, 'Your order has shipped');
  console.log(`text: ${sent.messageId} ${sent.messageStatus}`);
  const text = sent;

  sent = await sendTemplate(client, CUSTOMER, 'order_update', 'en_US', ['Ana', '#1234']);
  console.log(`template: ${sent.messageId}`);

  sent = await sendList(client, CUSTOMER);
  console.log(`interactive list: ${sent.messageId}`);

  // An image by media id: upload the file, then send the id the upload returned.
  const image = join(mkdtempSync(join(tmpdir(), 'whatsapp-media-')), 'receipt.png');
  writeFileSync(image, Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(1024)]));
  const uploaded = await uploadMedia(media, image, 'image/png');
  const sentImage = await sendImage(client, CUSTOMER, uploaded.mediaId, 'Your receipt');
  console.log(`image: uploaded ${uploaded.mediaId} (${uploaded.sizeBytes} bytes), sent ${sentImage.messageId}`);

  await markRead(client, sent.messageId, { typing: true });
  console.log(`marked ${sent.messageId} as read, with a typing indicator`);

  // A retry after a lost answer: the same requestId, so the message is sent once.
  const request = { to: CUSTOMER, text: { body: 'Sent once' }, requestId: randomUUID() };
  const first = await sendOnce(client, request);
  const retry = await sendOnce(client, request);
  console.log(`retry: ${first.response.messageId} then ${retry.response.messageId} (replayed: ${retry.replayed})`);

  // A deadline the answer cannot meet: the sandbox's slow recipient answers after 30 s.
  let details = await failure(sendText(client, SLOW, 'hello', { timeoutMs: 1000 }));
  console.log(`deadline: ${codeName(details.code)} ${JSON.stringify(details.message)} ${details.reason}`, details.metadata);

  details = await failure(sendText(client, CUSTOMER, ''));
  console.log(`invalid: ${codeName(details.code)} ${JSON.stringify(details.message)}`);
  for (const { field, reason, description } of details.violations) console.log(`  ${field}: ${reason} (${description})`);

  // With less time left than the API's Retry-After (7 s), the service answers at once with RetryInfo.
  details = await failure(sendText(client, RATE_LIMITED, 'hello', { timeoutMs: 5000 }));
  console.log(
    `rate limited: ${codeName(details.code)} ${JSON.stringify(details.message)} reason ${details.reason},` +
      ` outcome ${details.metadata.outcome}, retry in ${details.retryDelayMs} ms`,
  );

  // What became of the text: its statuses on the event stream (the service started with
  // --webhook-listen, so the sandbox posts them; see the README).
  const statuses = await waitForStatuses(events, 'example', text.messageId, undefined, { timeoutMs: 15_000 });
  console.log(`events: ${text.messageId} ${statuses.join(' → ') || 'none (start the service with --webhook-listen)'}`);
} finally {
  client.close();
  media.close();
  events.close();
}
