"""The Python examples against the real binary: `whatsapp-grpc serve --sandbox` on a port the OS
picks, read from its JSON "serving" log line.

Run: python generate.py && WHATSAPP_GRPC_BINARY=../../target/debug/whatsapp-grpc python -m pytest
(the binary defaults to target/debug/whatsapp-grpc of this repository).
"""

import json
import os
import pathlib
import queue
import subprocess
import threading
import time
import uuid

import grpc
import pytest

from whatsapp.v1 import messaging_service_pb2 as messaging, text_pb2
from whatsapp_example import (
    connect,
    download_media,
    error_details,
    mark_read,
    send_list,
    send_once,
    send_image,
    send_reliably,
    send_template,
    send_text,
    subscribe,
    upload_media,
    wait_for_statuses,
)

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent.parent
CUSTOMER = "15550001111"
STARTUP_SECONDS = 30


class Service:
    """The binary, serving on its in-process sandbox."""

    def __init__(self, binary):
        self.process = subprocess.Popen(
            # With a webhook listener, the sandbox posts the status webhooks of each send to it.
            [binary, "serve", "--sandbox", "--listen", "127.0.0.1:0", "--log-format", "json",
             "--webhook-listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(
                os.environ,
                RUST_LOG="info",
                WHATSAPP_GRPC_APP_SECRET="example-app-secret",
                WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN="example-verify-token",
            ),
        )
        self.lines = queue.Queue()
        # Drains stderr for the process's whole life, so its logging never blocks on a full pipe.
        threading.Thread(target=self._read, daemon=True).start()
        self.serving = self._wait_for_serving()
        self.address = self.serving["listen"]

    def _read(self):
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_serving(self):
        seen, deadline = [], time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise RuntimeError(f"the service exited with {self.process.wait()}:\n{''.join(seen)}")
            seen.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            fields = record.get("fields", record)
            if fields.get("message") == "whatsapp-grpc serving":
                return fields
        raise RuntimeError(f"no 'whatsapp-grpc serving' line within {STARTUP_SECONDS} s:\n{''.join(seen)}")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def connection():
    binary = os.environ.get("WHATSAPP_GRPC_BINARY", str(REPOSITORY / "target" / "debug" / "whatsapp-grpc"))
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no whatsapp-grpc binary at {binary}: cargo build --bin whatsapp-grpc, or set WHATSAPP_GRPC_BINARY")
    service = Service(binary)
    try:
        channel, stub = connect(service.address)
        with channel:
            yield channel, stub
    finally:
        service.stop()


@pytest.fixture(scope="module")
def stub(connection):
    return connection[1]


@pytest.fixture(scope="module")
def channel(connection):
    return connection[0]


def test_uploads_an_image_then_sends_it_by_id(channel, stub, tmp_path):
    image = tmp_path / "photo.png"
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 1200  # 300 KiB: two chunks and a bit
    image.write_bytes(data)
    uploaded = upload_media(channel, str(image), "image/png")
    assert uploaded.media_id, uploaded
    assert uploaded.size_bytes == len(data)
    sent = send_image(stub, CUSTOMER, uploaded.media_id, caption="Your receipt")
    assert sent.message_id.startswith("wamid."), sent
    assert download_media(channel, uploaded.media_id) == ("image/png", data)


def test_an_upload_of_a_type_the_api_refuses_names_the_field(channel, tmp_path):
    animation = tmp_path / "funny.gif"
    animation.write_bytes(b"GIF89a")
    with pytest.raises(grpc.RpcError) as raised:
        upload_media(channel, str(animation), "image/gif")
    details = error_details(raised.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [path for path, _, _ in details.violations] == ["metadata.mime_type"]


def test_sends_a_text(stub):
    sent = send_text(stub, CUSTOMER, "Your order has shipped")
    assert sent.message_id.startswith("wamid."), sent
    assert sent.wa_id == CUSTOMER
    assert sent.sender == "default"


def test_sends_a_template_with_parameters(stub):
    sent = send_template(stub, CUSTOMER, "order_update", "en_US", ["Ana", "#1234"])
    assert sent.message_id.startswith("wamid."), sent


def test_sends_an_interactive_list(stub):
    sent = send_list(stub, CUSTOMER)
    assert sent.message_id.startswith("wamid."), sent


def test_marks_a_message_read(stub):
    sent = send_text(stub, CUSTOMER, "hello")
    assert mark_read(stub, sent.message_id, typing=True) == messaging.MarkMessageReadResponse()


def test_a_retry_with_the_same_request_id_is_replayed(stub):
    request = messaging.SendMessageRequest(
        to=CUSTOMER, text=text_pb2.Text(body="Sent once"), request_id=str(uuid.uuid4())
    )
    first = send_once(stub, request)
    retry = send_once(stub, request)
    assert first.response.message_id.startswith("wamid."), first
    assert not first.replayed
    assert retry.replayed
    assert retry.response.message_id == first.response.message_id


def test_send_reliably_gives_every_attempt_one_request_id(stub):
    request = messaging.SendMessageRequest(to=CUSTOMER, text=text_pb2.Text(body="hello"))
    first = send_reliably(stub, request)
    assert str(uuid.UUID(request.request_id)) == request.request_id
    again = send_reliably(stub, request)
    assert again.replayed and again.response.message_id == first.response.message_id


def test_a_deadline_the_answer_cannot_meet(stub):
    # The sandbox's slow recipient answers after 30 s.
    with pytest.raises(grpc.RpcError) as failure:
        send_text(stub, "15550000408", "hello", timeout=1.0)
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_an_empty_text_reads_bad_request_details(stub):
    with pytest.raises(grpc.RpcError) as failure:
        send_text(stub, CUSTOMER, "")
    details = error_details(failure.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [(path, reason) for path, reason, _ in details.violations] == [("text.body", "REQUIRED")], details
    assert details.violations[0][2], "each violation has a description"


def test_a_rate_limited_recipient_reads_error_info_and_retry_info(stub):
    # With less time left than the API's Retry-After (7 s), the service answers at once; with more,
    # it waits and tries again first.
    with pytest.raises(grpc.RpcError) as failure:
        send_text(stub, "15550000429", "hello", timeout=5.0)
    details = error_details(failure.value)
    assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details.reason == "130429", details
    assert details.metadata["outcome"] == "not_sent", details
    assert details.retry_delay == 7.0, details
    # The API's `(#130429) Rate limit hit` reads `error 130429: Rate limit hit`: the code once.
    assert "error 130429: Rate limit hit" in details.message, details
    assert "#" not in details.message, details
    assert failure.value.details() == details.message, "grpcio decodes grpc-message in full"


def test_a_sent_message_comes_back_as_its_statuses_on_the_event_stream(channel, stub):
    sent = send_text(stub, CUSTOMER, "Your order has shipped")
    group = f"python-{uuid.uuid4().hex[:8]}"
    assert wait_for_statuses(channel, group, sent.message_id) == ["sent", "delivered", "read"]
    # Acknowledged: a new stream of the group gets none of them again, only what comes next.
    later = send_text(stub, CUSTOMER, "And here is your receipt")
    seen = []

    def handle(event):
        seen.append(event.event_id)
        return event.event_id == f"status/{later.message_id}/read"

    assert subscribe(channel, group, handle)
    assert not any(sent.message_id in event_id for event_id in seen), seen
    assert [event_id for event_id in seen if later.message_id in event_id] == [
        f"status/{later.message_id}/{status}" for status in ("sent", "delivered", "read")
    ]
