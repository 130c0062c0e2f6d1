"""A Python caller with no code of ours: it learns the API from gRPC server reflection.

Starts the real binary twice (the sandbox, and the service pointed at it with the flags and
environment an operator would use), then, with grpcio only:
  - discovers whatsapp.v1.MessagingService through reflection and builds its message classes;
  - sends a text and a template written in Protobuf JSON, and checks the ids and what the API got;
  - sends an invalid message and reads the google.rpc.BadRequest details;
  - maps a rate-limited recipient to RESOURCE_EXHAUSTED with ErrorInfo and RetryInfo;
  - checks the gRPC health service.
Usage: python3 reflection_client.py PATH_TO_BINARY
Prints "N passed, N failed" and exits non-zero if anything failed.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import urllib.request

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status

SERVICE = "whatsapp.v1.MessagingService"


def start_listening(command, env, message, seconds=30):
    """Starts `command` with `--listen 127.0.0.1:0 --log-format json` (in `env`) and returns the
    process and the address it logged in the JSON line whose message starts with `message`. The OS
    picks the port: nothing can take it between a guess and the bind. The rest of the log is drained
    on a thread, so the process never blocks on a full pipe."""
    process = subprocess.Popen(
        command + ["--listen", "127.0.0.1:0", "--log-format", "json"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = queue.Queue()

    def read():
        for line in process.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if str(event.get("message", "")).startswith(message) and "listen" in event:
                found.put(event["listen"])

    threading.Thread(target=read, daemon=True).start()
    try:
        return process, found.get(timeout=seconds)
    except queue.Empty:
        process.kill()
        raise RuntimeError(f"{command[0]} never logged {message!r} (exit {process.poll()})")


def http_json(url, method="GET"):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=5) as answer:
        body = answer.read()
        return json.loads(body) if body else None


class Client:
    """Everything a caller needs, learned through reflection."""

    def __init__(self, address):
        self.channel = grpc.insecure_channel(address)
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(self.channel))
        service = pool.FindServiceByName(SERVICE)
        self.methods = {}
        for name in ("SendMessage", "MarkMessageRead"):
            method = service.methods_by_name[name]
            request = message_factory.GetMessageClass(method.input_type)
            response = message_factory.GetMessageClass(method.output_type)
            call = self.channel.unary_unary(
                f"/{SERVICE}/{name}",
                request_serializer=request.SerializeToString,
                response_deserializer=response.FromString,
            )
            self.methods[name] = (request, call)

    def call(self, name, request_json):
        request_class, call = self.methods[name]
        request = json_format.Parse(json.dumps(request_json), request_class())
        return call(request, timeout=10)


def check_sends_a_text(client, sandbox):
    http_json(f"{sandbox}/sandbox/received", method="DELETE")
    answer = client.call(
        "SendMessage", {"to": "15550001111", "text": {"body": "hello from Python"}}
    )
    assert answer.message_id.startswith("wamid."), answer
    assert answer.wa_id == "15550001111", answer
    received = http_json(f"{sandbox}/sandbox/received")
    assert len(received) == 1, received
    assert received[0]["path"] == "/v24.0/100000000000001/messages", received[0]["path"]
    assert received[0]["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15550001111",
        "type": "text",
        "text": {"body": "hello from Python"},
    }, received[0]["body"]


def check_sends_a_template(client, sandbox):
    http_json(f"{sandbox}/sandbox/received", method="DELETE")
    client.call(
        "SendMessage",
        {
            "to": "15550001111",
            "requestId": "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c",
            "template": {
                "name": "order_update",
                "language": {"code": "en_US"},
                "components": [{"body": {"parameters": [{"text": "Ana"}]}}],
            },
        },
    )
    body = http_json(f"{sandbox}/sandbox/received")[0]["body"]
    assert body["type"] == "template", body
    assert body["template"] == {
        "name": "order_update",
        "language": {"policy": "deterministic", "code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
    }, body["template"]


def check_invalid_request_details(client, sandbox):
    http_json(f"{sandbox}/sandbox/received", method="DELETE")
    try:
        client.call("SendMessage", {"to": "15550001111", "text": {"body": "x" * 4097}})
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.code()
        status = rpc_status.from_call(error)
        bad_request = error_details_pb2.BadRequest()
        assert any(d.Unpack(bad_request) for d in status.details), status.details
        violation = bad_request.field_violations[0]
        assert violation.field == "text.body", violation
        assert violation.reason == "TOO_LONG", violation
        assert http_json(f"{sandbox}/sandbox/received") == [], "nothing was sent"
        return
    raise AssertionError("an invalid request was accepted")


def check_rate_limit_details(client, _sandbox):
    try:
        client.call("SendMessage", {"to": "15550000429", "text": {"body": "hello"}})
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.code()
        status = rpc_status.from_call(error)
        info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
        assert any(d.Unpack(info) for d in status.details), status.details
        assert any(d.Unpack(retry) for d in status.details), status.details
        assert info.reason == "130429", info
        assert info.metadata["outcome"] == "not_sent", info
        assert info.metadata["fbtrace_id"], info
        assert retry.retry_delay.seconds == 7, retry
        return
    raise AssertionError("a rate-limited send succeeded")


def check_health(client, _sandbox):
    health = health_pb2_grpc.HealthStub(client.channel)
    deadline = time.time() + 10
    while True:
        answer = health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
        if answer.status == health_pb2.HealthCheckResponse.SERVING:
            return
        if time.time() > deadline:
            raise AssertionError(f"still {answer.status}")
        time.sleep(0.1)


def main():
    binary = sys.argv[1]
    env = dict(os.environ, RUST_LOG="info")
    processes = []
    passed = failed = 0
    try:
        sandbox, sandbox_address = start_listening([binary, "sandbox"], env, "SANDBOX")
        processes.append(sandbox)
        sandbox_url = f"http://{sandbox_address}"
        service_env = dict(
            env,
            WHATSAPP_GRPC_ACCESS_TOKEN="sandbox-token",
            WHATSAPP_GRPC_PHONE_NUMBER_ID="100000000000001",
            WHATSAPP_GRPC_UPSTREAM_URL=sandbox_url,
            WHATSAPP_GRPC_HEALTH_INTERVAL="200ms",
        )
        service, grpc_address = start_listening(
            [binary, "serve"], service_env, "whatsapp-grpc serving"
        )
        processes.append(service)

        client = Client(grpc_address)
        for check in (
            check_health,
            check_sends_a_text,
            check_sends_a_template,
            check_invalid_request_details,
            check_rate_limit_details,
        ):
            try:
                check(client, sandbox_url)
                passed += 1
                print(f"ok   {check.__name__}")
            except Exception:  # noqa: BLE001 - report every failing check
                failed += 1
                print(f"FAIL {check.__name__}")
                traceback.print_exc()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
