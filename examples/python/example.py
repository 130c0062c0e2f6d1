"""Runs every example against a running service (`cargo run -- serve --sandbox`).

Usage: python example.py [ADDRESS]   (default 127.0.0.1:50051)
"""

import sys
import tempfile
import uuid

import grpc

from whatsapp.v1 import messaging_service_pb2 as messaging, text_pb2
from whatsapp_example import (
    connect,
    error_details,
    mark_read,
    send_image,
    send_list,
    send_once,
    send_template,
    send_text,
    upload_media,
    wait_for_statuses,
)

# Recipients the sandbox answers specially (see the README's "The sandbox").
CUSTOMER = "15550001111"
RATE_LIMITED = "15550000429"
SLOW = "15550000408"


def main():
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    channel, stub = connect(address)
    with channel:
        sent = send_text(stub, CUSTOMER, "Your order has shipped")
        print(f"text: {sent.message_id} {messaging.MessageStatus.Name(sent.message_status)}")
        text = sent

        sent = send_template(stub, CUSTOMER, "order_update", "en_US", ["Ana", "#1234"])
        print(f"template: {sent.message_id}")

        sent = send_list(stub, CUSTOMER)
        print(f"interactive list: {sent.message_id}")

        # An image by media id: upload the file, then send the id the upload returned.
        with tempfile.NamedTemporaryFile(suffix=".png") as image:
            image.write(b"\x89PNG\r\n\x1a\n" + bytes(1024))
            image.flush()
            uploaded = upload_media(channel, image.name, "image/png")
        sent_image = send_image(stub, CUSTOMER, uploaded.media_id, caption="Your receipt")
        print(f"image: uploaded {uploaded.media_id} ({uploaded.size_bytes} bytes), sent {sent_image.message_id}")

        mark_read(stub, sent.message_id, typing=True)
        print(f"marked {sent.message_id} as read, with a typing indicator")

        # A retry after a lost answer: the same request_id, so the message is sent once.
        request = messaging.SendMessageRequest(
            to=CUSTOMER, text=text_pb2.Text(body="Sent once"), request_id=str(uuid.uuid4())
        )
        first, retry = send_once(stub, request), send_once(stub, request)
        print(f"retry: {first.response.message_id} then {retry.response.message_id} (replayed: {retry.replayed})")

        # A deadline the answer cannot meet: the sandbox's slow recipient answers after 30 s.
        try:
            send_text(stub, SLOW, "hello", timeout=1.0)
        except grpc.RpcError as error:
            details = error_details(error)
            print(f"deadline: {details.code.name} {details.message!r} {details.reason} {details.metadata}")

        try:
            send_text(stub, CUSTOMER, "")
        except grpc.RpcError as error:
            details = error_details(error)
            print(f"invalid: {details.code.name} {details.message!r}")
            for path, reason, description in details.violations:
                print(f"  {path}: {reason} ({description})")

        # With less time left than the API's Retry-After (7 s), the service answers at once.
        try:
            send_text(stub, RATE_LIMITED, "hello", timeout=5.0)
        except grpc.RpcError as error:
            details = error_details(error)
            print(
                f"rate limited: {details.code.name} {details.message!r} reason {details.reason},"
                f" outcome {details.metadata.get('outcome')}, retry in {details.retry_delay} s"
            )

        # What became of the text: its statuses on the event stream (the service started with
        # --webhook-listen, so the sandbox posts them; see the README).
        statuses = wait_for_statuses(channel, "example", text.message_id, timeout=15.0)
        print(f"events: {text.message_id} {' → '.join(statuses) or 'none (start the service with --webhook-listen)'}")


if __name__ == "__main__":
    main()
