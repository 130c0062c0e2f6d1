#!/usr/bin/env python3
"""Writes docs/api.md, the API reference of proto/, from the comments in the .proto files.

    python3 scripts/api_docs.py           # rewrite docs/api.md
    python3 scripts/api_docs.py --stdout  # print it instead

It reads the FileDescriptorSet, with source info, that `buf build -o -` writes (buf is the one .ci/run
installs; BUF=path overrides it) with the `protobuf` package, and lists every service, RPC, message,
field (type and number), oneof, enum and value with its comment. An element without a comment is an
error: the reference would have a hole (buf lint's COMMENTS rules say the same).
CI regenerates the file and fails when the committed one differs.
"""

import os
import subprocess
import sys

from google.protobuf import descriptor_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "docs", "api.md")
PACKAGE_PREFIX = "whatsapp/"
FIRST_FILE = "whatsapp/v1/messaging_service.proto"

# FileDescriptorProto, DescriptorProto, EnumDescriptorProto and ServiceDescriptorProto field
# numbers, as SourceCodeInfo location paths use them.
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM, MESSAGE_ONEOF = 2, 3, 4, 8
ENUM_VALUE = 2
SERVICE_METHOD = 2

T = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    T.TYPE_DOUBLE: "double", T.TYPE_FLOAT: "float", T.TYPE_INT64: "int64", T.TYPE_UINT64: "uint64",
    T.TYPE_INT32: "int32", T.TYPE_FIXED64: "fixed64", T.TYPE_FIXED32: "fixed32", T.TYPE_BOOL: "bool",
    T.TYPE_STRING: "string", T.TYPE_BYTES: "bytes", T.TYPE_UINT32: "uint32", T.TYPE_SFIXED32: "sfixed32",
    T.TYPE_SFIXED64: "sfixed64", T.TYPE_SINT32: "sint32", T.TYPE_SINT64: "sint64",
}


def descriptor_set():
    buf = os.environ.get("BUF") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "whatsapp-grpc-ci", "node_modules", ".bin", "buf")
    if not os.access(buf, os.X_OK):
        sys.exit(f"buf is not at {buf}: run .ci/run's protobuf lint step first, or set BUF")
    built = subprocess.run([buf, "build", "-o", "-"], cwd=ROOT, check=True, capture_output=True)
    return descriptor_pb2.FileDescriptorSet.FromString(built.stdout)


class Writer:
    def __init__(self, files):
        self.lines = []
        self.missing = []
        self.package = files[0].package
        # Full names of this package's messages and enums, for links.
        self.local = set()
        for f in files:
            for m in f.message_type:
                self._collect(f.package, m)
            for e in f.enum_type:
                self.local.add(f"{f.package}.{e.name}")

    def _collect(self, prefix, message):
        name = f"{prefix}.{message.name}"
        self.local.add(name)
        for nested in message.nested_type:
            self._collect(name, nested)
        for e in message.enum_type:
            self.local.add(f"{name}.{e.name}")

    def comment(self, comments, path, what):
        location = comments.get(tuple(path))
        text = location.leading_comments.strip("\n") if location else ""
        if not text.strip():
            self.missing.append(what)
            return ""
        paragraphs, current = [], []
        for line in text.split("\n"):
            line = line[1:] if line.startswith(" ") else line
            if line.strip():
                current.append(line.rstrip())
            elif current:
                paragraphs.append(" ".join(current))
                current = []
        if current:
            paragraphs.append(" ".join(current))
        return "\n\n".join(paragraphs)

    def short(self, full_name):
        """`whatsapp.v1.Template.Component` -> `Template.Component`."""
        return full_name.removeprefix(f".{self.package}.").lstrip(".")

    def link(self, full_name):
        name = self.short(full_name)
        if full_name.lstrip(".") in self.local:
            return f"[`{name}`](#{anchor(name)})"
        return f"`{name}`"

    def type_of(self, field, maps):
        if field.type in (T.TYPE_MESSAGE, T.TYPE_ENUM):
            if field.type_name in maps:
                key, value = maps[field.type_name]
                return f"map<{self.type_of(key, {})}, {self.type_of(value, {})}>"
            kind = self.link(field.type_name)
        else:
            kind = f"`{SCALARS[field.type]}`"
        if field.label == T.LABEL_REPEATED:
            return f"repeated {kind}"
        if field.proto3_optional:
            return f"optional {kind}"
        return kind

    def message(self, comments, path, message, prefix):
        name = f"{prefix}{message.name}"
        self.lines += [f"### {name}", "", self.comment(comments, path, f"message {name}"), ""]
        maps = {}
        for i, nested in enumerate(message.nested_type):
            if nested.options.map_entry:
                maps[f".{self.package}.{name}.{nested.name}"] = (nested.field[0], nested.field[1])
        real_oneofs = {
            i for i, oneof in enumerate(message.oneof_decl)
            if not any(f.proto3_optional and f.oneof_index == i for f in message.field)
        }
        if message.field:
            self.lines += ["| Field | Number | Type | Description |", "| --- | --- | --- | --- |"]
            for i, field in enumerate(message.field):
                text = self.comment(comments, path + [MESSAGE_FIELD, i], f"field {name}.{field.name}")
                if field.HasField("oneof_index") and field.oneof_index in real_oneofs:
                    text = f"Member of oneof `{message.oneof_decl[field.oneof_index].name}`. {text}"
                self.lines.append(
                    f"| `{field.name}` | {field.number} | {self.type_of(field, maps)} | {cell(text)} |")
            self.lines.append("")
        else:
            self.lines += ["No fields.", ""]
        for i in sorted(real_oneofs):
            oneof = message.oneof_decl[i]
            members = ", ".join(f"`{f.name}`" for f in message.field
                                if f.HasField("oneof_index") and f.oneof_index == i)
            text = self.comment(comments, path + [MESSAGE_ONEOF, i], f"oneof {name}.{oneof.name}")
            self.lines += [f"Oneof `{oneof.name}` ({members}): {text}", ""]
        for i, nested in enumerate(message.nested_type):
            if not nested.options.map_entry:
                self.message(comments, path + [MESSAGE_NESTED, i], nested, f"{name}.")
        for i, enum in enumerate(message.enum_type):
            self.enum(comments, path + [MESSAGE_ENUM, i], enum, f"{name}.")

    def enum(self, comments, path, enum, prefix):
        name = f"{prefix}{enum.name}"
        self.lines += [f"### {name}", "", self.comment(comments, path, f"enum {name}"), "",
                       "| Value | Number | Description |", "| --- | --- | --- |"]
        for i, value in enumerate(enum.value):
            text = self.comment(comments, path + [ENUM_VALUE, i], f"enum value {name}.{value.name}")
            self.lines.append(f"| `{value.name}` | {value.number} | {cell(text)} |")
        self.lines.append("")

    def service(self, comments, path, service):
        self.lines += [f"### {service.name}", "",
                       self.comment(comments, path, f"service {service.name}"), "",
                       "| RPC | Request | Response | Description |", "| --- | --- | --- | --- |"]
        for i, method in enumerate(service.method):
            text = self.comment(comments, path + [SERVICE_METHOD, i], f"rpc {service.name}.{method.name}")
            stream_in = "stream " if method.client_streaming else ""
            stream_out = "stream " if method.server_streaming else ""
            self.lines.append(
                f"| `{method.name}` | {stream_in}{self.link(method.input_type)} | "
                f"{stream_out}{self.link(method.output_type)} | {cell(text)} |")
        self.lines.append("")

    def file(self, f):
        comments = {tuple(loc.path): loc for loc in f.source_code_info.location}
        self.lines += [f"## {f.name}", ""]
        for i, service in enumerate(f.service):
            self.service(comments, [FILE_SERVICE, i], service)
        for i, message in enumerate(f.message_type):
            self.message(comments, [FILE_MESSAGE, i], message, "")
        for i, enum in enumerate(f.enum_type):
            self.enum(comments, [FILE_ENUM, i], enum, "")


def anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation other than - and _ dropped."""
    return "".join(c for c in heading.lower() if c.isalnum() or c in "-_")


def cell(text):
    return text.replace("|", "\\|").replace("\n\n", "<br><br>")


def main():
    files = [f for f in descriptor_set().file if f.name.startswith(PACKAGE_PREFIX)]
    files.sort(key=lambda f: (f.name != FIRST_FILE, f.name))
    packages = {f.package for f in files}
    if len(packages) != 1:
        sys.exit(f"expected one package under proto/{PACKAGE_PREFIX}, found {sorted(packages)}")
    writer = Writer(files)
    writer.lines += [
        f"# `{writer.package}` API reference",
        "",
        "<!-- Generated by `python3 scripts/api_docs.py` from the comments in proto/: edit those, not this"
        " file. CI fails when it is stale. -->",
        "",
        "Every service, RPC, message, field (with its type and number), oneof, enum and value of the"
        f" `{writer.package}` package, as the comments in [proto/](../proto) describe them. Limits quoted"
        " here are checked by the service before anything is sent; a violation is answered with"
        " `INVALID_ARGUMENT` and a `google.rpc.BadRequest` naming the field.",
        "",
        "Files: " + ", ".join(f"[{f.name}](#{anchor(f.name)})" for f in files) + ".",
        "",
    ]
    for f in files:
        writer.file(f)
    if writer.missing:
        sys.exit("these elements have no comment, so docs/api.md would have holes:\n  "
                 + "\n  ".join(writer.missing))
    text = "\n".join(writer.lines).rstrip("\n") + "\n"
    if "--stdout" in sys.argv[1:]:
        sys.stdout.write(text)
        return
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w") as out:
        out.write(text)
    print(f"wrote {os.path.relpath(OUTPUT, ROOT)}: {len(files)} files")


if __name__ == "__main__":
    main()
