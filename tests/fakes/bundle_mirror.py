"""A loopback stand-in for the download sites of the archive bundles (go.dev/dl, the uv
releases on GitHub), serving small fake archives with checksum files in the published
formats. provision reaches it through AGSEKIT_BUNDLE_MIRROR=<base>, under which NAME/
stands in for each bundle's site. Query strings are ignored, as a static mirror would."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import platform
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MACHINE = platform.machine()  # the guest's: the double runs on this host's kernel
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(MACHINE, MACHINE)
NODE_ARCH = {"x86_64": "x64", "aarch64": "arm64"}.get(MACHINE, MACHINE)


@dataclass
class Mirror:
    port: int
    files: dict[str, bytes] = field(default_factory=dict)  # path -> content
    requests: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(mirror: Mirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            mirror.requests.append(path)
            body = mirror.files.get(path)
            self.send_response(404 if body is None else 200)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def bundle_mirror() -> Iterator[Mirror]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Mirror(0)))
    mirror = Mirror(server.server_address[1])
    server.RequestHandlerClass = _handler(mirror)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()


def tarball(members: dict[str, str], *, xz: bool = False) -> bytes:
    """A .tar.gz (or .tar.xz) of executable scripts: member path -> text."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    return lzma.compress(out.getvalue()) if xz else gzip.compress(out.getvalue())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serve_go(mirror: Mirror, version: str, *, published_sha: str | None = None) -> str:
    """go<version> as go.dev/dl publishes it: the archive (go/bin/go prints its version)
    and the JSON release list with its sha256 (or published_sha, to tamper with it)."""
    script = f'#!/bin/sh\necho "go version go{version} linux/{GO_ARCH}"\n'
    archive = tarball({"go/bin/go": script})
    filename = f"go{version}.linux-{GO_ARCH}.tar.gz"
    item = {
        "filename": filename,
        "os": "linux",
        "arch": GO_ARCH,
        "version": f"go{version}",
        "sha256": published_sha or sha256(archive),
        "size": len(archive),
        "kind": "archive",
    }
    source = {**item, "filename": f"go{version}.src.tar.gz", "os": "", "arch": "", "kind": "source"}
    releases = [{"version": f"go{version}", "stable": True, "files": [source, item]}]
    mirror.files["/golang/"] = json.dumps(releases).encode()
    mirror.files[f"/golang/{filename}"] = archive
    return filename


def serve_uv(mirror: Mirror, version: str) -> None:
    """The newest uv release as GitHub serves it: the tarball and its .sha256 file."""
    top = f"uv-{MACHINE}-unknown-linux-gnu"
    archive = tarball(
        {
            f"{top}/uv": f'#!/bin/sh\necho "uv {version} (0123abcd 2025-01-01)"\n',
            f"{top}/uvx": f'#!/bin/sh\necho "uvx {version}"\n',
        }
    )
    path = f"/uv/latest/download/{top}.tar.gz"
    mirror.files[path] = archive
    mirror.files[path + ".sha256"] = f"{sha256(archive)}  {top}.tar.gz\n".encode()


def serve_node(mirror: Mirror, versions: list[str]) -> None:
    """Node.js releases as nodejs.org/dist lays them out: index.json (newest first), and
    per release the .tar.xz (bin/node prints its version) with SHASUMS256.txt."""
    index = [{"version": f"v{v}", "lts": False} for v in versions]
    mirror.files["/nodejs/index.json"] = json.dumps(index).encode()
    for version in versions:
        top = f"node-v{version}-linux-{NODE_ARCH}"
        archive = tarball({f"{top}/bin/node": f"#!/bin/sh\necho v{version}\n"}, xz=True)
        mirror.files[f"/nodejs/v{version}/{top}.tar.xz"] = archive
        sums = f"{'1' * 64}  {top}.tar.gz\n{sha256(archive)}  {top}.tar.xz\n"
        mirror.files[f"/nodejs/v{version}/SHASUMS256.txt"] = sums.encode()


# rustup-init's stand-in: puts rustup's proxies (here: scripts) into $CARGO_HOME/bin, for
# the toolchain given with --default-toolchain; `rustup default X` switches it.
RUSTUP_INIT = r"""#!/bin/bash
set -e
while [ $# -gt 0 ]; do [ "$1" = --default-toolchain ] && toolchain=$2; shift; done
mkdir -p "$CARGO_HOME/bin" "$RUSTUP_HOME"
echo "${toolchain/stable/1.83.0}" > "$RUSTUP_HOME/default"
for tool in rustc cargo; do
  printf '#!/bin/sh\necho "%s $(cat "$RUSTUP_HOME/default") (90b35a623 2024-11-26)"\n' "$tool" \
    > "$CARGO_HOME/bin/$tool"
done
printf '#!/bin/sh\n[ "$1" = default ] && echo "$2" > "$RUSTUP_HOME/default"\n' \
  > "$CARGO_HOME/bin/rustup"
chmod 755 "$CARGO_HOME"/bin/*
"""


def serve_rustup_init(mirror: Mirror, *, published_sha: str | None = None) -> None:
    """rustup-init and its .sha256 as static.rust-lang.org publishes them."""
    path = f"/rust/rustup/dist/{MACHINE}-unknown-linux-gnu/rustup-init"
    data = RUSTUP_INIT.encode()
    mirror.files[path] = data
    published = published_sha or sha256(data)
    line = f"{published}  ./target/{MACHINE}-unknown-linux-gnu/release/rustup-init\n"
    mirror.files[path + ".sha256"] = line.encode()
