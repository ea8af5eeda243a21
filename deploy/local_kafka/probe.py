"""A tiny Kafka protocol client: just enough to ask a broker "are you up, and who are you?".

Readiness is checked with the protocol itself, not a TCP connect: ApiVersions v0 first (every
broker answers it), then Metadata v4 with an empty topic list, which must list at least one broker
and name the cluster id.
"""

from __future__ import annotations

import socket
import struct

from .errors import ProbeError

__all__ = [
    "API_VERSIONS",
    "CLIENT_ID",
    "METADATA",
    "encode_request",
    "metadata_request_v4",
    "parse_api_versions_v0",
    "parse_metadata_v4",
    "probe",
]

API_VERSIONS = 18
METADATA = 3
CLIENT_ID = b"local-kafka"


def encode_request(
    api_key: int, api_version: int, correlation_id: int, body: bytes, client_id: bytes = CLIENT_ID
) -> bytes:
    """One size-prefixed request frame with a v1 header (api key, version, correlation id, client id).

    >>> encode_request(18, 0, 1, b"", b"x").hex()
    '0000000b0012000000000001000178'
    """
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id)) + client_id
    frame = header + body
    return struct.pack(">i", len(frame)) + frame


def metadata_request_v4() -> bytes:
    """The body of a Metadata v4 request: no topics (``[]``, not null: null means all), no auto-create."""
    return struct.pack(">ib", 0, 0)


def parse_api_versions_v0(body: bytes) -> int:
    """The error code of an ApiVersions v0 response body (after the correlation id)."""
    (error,) = struct.unpack_from(">h", body, 0)
    return int(error)


def parse_metadata_v4(body: bytes) -> tuple[int, str | None]:
    """``(number of brokers, cluster id)`` from a Metadata v4 response body (after the correlation id).

    Raises ``struct.error`` or ``UnicodeDecodeError`` on a truncated or garbled body.
    """
    pos = 4  # throttle_time_ms
    (n_brokers,) = struct.unpack_from(">i", body, pos)
    pos += 4
    for _ in range(n_brokers):
        pos += 4  # node_id
        (host_len,) = struct.unpack_from(">h", body, pos)
        pos += 2 + host_len + 4  # host, port
        (rack_len,) = struct.unpack_from(">h", body, pos)
        pos += 2 + max(rack_len, 0)  # rack: nullable string
    (cid_len,) = struct.unpack_from(">h", body, pos)
    if cid_len < 0:
        return int(n_brokers), None
    raw = body[pos + 2 : pos + 2 + cid_len]
    if len(raw) != cid_len:
        raise struct.error(f"cluster id truncated: {len(raw)} of {cid_len} bytes")
    return int(n_brokers), raw.decode()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        chunks += chunk
    return bytes(chunks)


def _call(sock: socket.socket, api_key: int, api_version: int, correlation_id: int, body: bytes) -> bytes:
    sock.sendall(encode_request(api_key, api_version, correlation_id, body))
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    payload = _recv_exact(sock, size)
    (answered,) = struct.unpack_from(">i", payload, 0)
    if answered != correlation_id:
        raise ConnectionError(f"correlation id mismatch: sent {correlation_id}, got {answered}")
    return payload[4:]


def probe(host: str, port: int, timeout: float = 2.0) -> tuple[int, str | None]:
    """Ask a broker for its metadata; returns ``(number of live brokers, cluster id)``.

    Raises :class:`ProbeError` (an ``OSError``) when the broker is not (yet) answering the Kafka
    protocol: refused, closed, timed out, an error code, or a reply that does not parse.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            error = parse_api_versions_v0(_call(sock, API_VERSIONS, 0, 1, b""))
            if error != 0:
                raise ProbeError(f"ApiVersions error code {error}")
            return parse_metadata_v4(_call(sock, METADATA, 4, 2, metadata_request_v4()))
    except ProbeError:
        raise
    except (OSError, struct.error, ValueError) as exc:
        kind = "struct.error" if isinstance(exc, struct.error) else type(exc).__name__
        raise ProbeError(f"{kind}: {exc}") from exc
