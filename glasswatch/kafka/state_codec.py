"""The codec of stored state values: a signed, versioned envelope around a restricted pickle.

Whoever can write the changelog topic could otherwise run code in the worker (a pickle names the
callables it calls), and a release that moves a state class could not read the state of the
release before. A value is therefore::

    magic b"\\x93GWS" | format version (1 byte) | key id (8 bytes) | HMAC-SHA256 (32 bytes) | payload

where the payload of version 1 is ``zlib(pickle)`` of one object, and that of version 2
(:data:`PARTS_VERSION`, :meth:`StateCodec.encode_parts`) a sequence of named parts, each
``u32 len | name (UTF-8) | u32 len | zlib(pickle)``: a writer keeps the bytes of a part that did
not change and signs them again with the parts that did, so the cost of a write does not grow
with what it did not change (a partition's models, :mod:`glasswatch.kafka.state_store`).

The HMAC covers everything but itself and is keyed by the worker's secret
(:func:`load_state_key`): a value is unpickled only when this worker's key signed it, and then
through :func:`~glasswatch.kafka.safe_unpickler.restricted_loads` (an allowlist of the classes a
state is made of, old module names mapped to new ones). The key id (derived from the key, it
reveals nothing of it) tells a value signed with *another* key from an altered one.

A bare ``zlib(pickle)`` value is the unsigned format of the release before this envelope
(ac2668e). It is refused unless ``accept_legacy`` (``GLASSWATCH_WORKER__ACCEPT_LEGACY_STATE``)
is set, and then still read through the restricted unpickler. Every refusal is a
:class:`~glasswatch.errors.StateRefused` whose ``reason`` is a :data:`RefusalReason` and whose
message says what to do; the caller starts the partition from empty state.

The codec is not tied to one state type (``decode(value, kind)``): a table of per-model values
can use it as well. Unpickling runs with the garbage collector paused: a state is many small
objects, and in a worker's large heap the collections they trigger cost ten times the unpickling.

Examples
--------
>>> codec = StateCodec(b"k" * 32)
>>> codec.decode(codec.encode({"x": [1.5, 2]}), dict)
{'x': [1.5, 2]}
>>> try:
...     StateCodec(b"another key, 32 bytes long......").decode(codec.encode({}), dict)
... except StateRefused as exc:
...     print(exc.reason)
foreign_key
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import logging
import os
import pickle
import secrets
import struct
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from glasswatch.errors import ConfigError, StateRefused
from glasswatch.kafka.safe_unpickler import ForbiddenGlobal, restricted_loads
from glasswatch.settings import WorkerSettings

__all__ = [
    "FORMAT_VERSION",
    "KEY_FILE",
    "MAGIC",
    "MAX_PICKLE_BYTES",
    "MIN_KEY_CHARS",
    "PARTS_VERSION",
    "RefusalReason",
    "StateCodec",
    "load_state_key",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MAGIC: Final = b"\x93GWS"
"""First bytes of a signed value (never the first bytes of a zlib stream or a pickle)."""
FORMAT_VERSION: Final = 1
"""Format of a value holding one object (:meth:`StateCodec.encode`)."""
PARTS_VERSION: Final = 2
"""Format of a value of named parts (:meth:`StateCodec.encode_parts`)."""
KEY_FILE: Final = "state.key"
"""The generated key's file in the worker's data dir (when no key is configured)."""
MIN_KEY_CHARS: Final = 16
MAX_PICKLE_BYTES: Final = 512 * 1024 * 1024
"""Refuse values that decompress to more than this (a zlib bomb in a forged record)."""

_KEY_ID_BYTES = 8
_MAC_BYTES = 32
_HEADER = len(MAGIC) + 1 + _KEY_ID_BYTES + _MAC_BYTES
_KEY_ENV = "GLASSWATCH_WORKER__STATE_KEY"
_LEGACY_ENV = "GLASSWATCH_WORKER__ACCEPT_LEGACY_STATE"
_U32 = struct.Struct(">I")

RefusalReason = Literal[
    "legacy",
    "foreign_key",
    "tampered",
    "unknown_version",
    "unrecognised",
    "corrupt",
    "forbidden",
    "wrong_type",
]
"""Why a value was refused: ``legacy`` unsigned value of the previous release (flag not set);
``foreign_key`` signed with another key; ``tampered`` signature does not match; ``unknown_version``
a format this release does not know; ``unrecognised`` neither format; ``corrupt`` not
decompressible/unpicklable; ``forbidden`` names a global outside the allowlist; ``wrong_type``
not the expected type."""


def _refuse(reason: RefusalReason, detail: str) -> StateRefused:
    return StateRefused(reason, detail)


class StateCodec:
    """Signs and checks stored state values with one key (see the module docstring)."""

    def __init__(self, key: bytes, *, accept_legacy: bool = False, max_bytes: int = MAX_PICKLE_BYTES):
        if len(key) < MIN_KEY_CHARS:
            raise ConfigError(f"the state key must be at least {MIN_KEY_CHARS} bytes")
        self._key = key
        self.accept_legacy = accept_legacy
        self.max_bytes = max_bytes
        self.key_id = hmac.new(key, b"glasswatch state key id", hashlib.sha256).digest()[:_KEY_ID_BYTES]

    def __repr__(self) -> str:  # never the key
        return f"StateCodec(key_id={self.key_id.hex()}, accept_legacy={self.accept_legacy})"

    @classmethod
    def from_settings(cls, worker: WorkerSettings) -> StateCodec:
        """The worker's codec: its configured key, or the one generated in its data dir."""
        codec = cls(load_state_key(worker), accept_legacy=worker.accept_legacy_state)
        if worker.accept_legacy_state:
            log.warning(
                "%s is set: unsigned partition state of the previous release is accepted (through the "
                "restricted unpickler); remove it once every partition has been written again",
                _LEGACY_ENV,
            )
        return codec

    def encode(self, obj: object) -> bytes:
        return self._sign(FORMAT_VERSION, self.encode_part(obj))

    @staticmethod
    def encode_part(obj: object) -> bytes:
        """``zlib(pickle(obj))``: one part of :meth:`encode_parts` (keep it to write it again)."""
        return zlib.compress(pickle.dumps(obj, protocol=5), 1)

    def encode_parts(self, parts: Mapping[str, bytes]) -> bytes:
        """A signed value of named parts (each from :meth:`encode_part`), read back by
        :meth:`decode` with ``assemble``. Signing is the only cost that grows with the parts."""
        chunks: list[bytes] = []
        for name, blob in parts.items():
            raw = name.encode("utf-8", "surrogatepass")
            chunks += (_U32.pack(len(raw)), raw, _U32.pack(len(blob)), blob)
        return self._sign(PARTS_VERSION, b"".join(chunks))

    def _sign(self, version: int, payload: bytes) -> bytes:
        head = MAGIC + bytes([version]) + self.key_id
        return head + self._mac(head, payload) + payload

    def decode(
        self,
        value: bytes,
        kind: type[_T],
        *,
        migrate: Callable[[_T], _T] | None = None,
        assemble: Callable[[dict[str, object]], object] | None = None,
    ) -> _T:
        """The object in ``value`` if this worker may read it and it is a ``kind``; else raises
        :class:`~glasswatch.errors.StateRefused`. ``migrate`` is applied to an object read from
        the previous release's unsigned format (e.g. to drop parts whose classes changed);
        ``assemble`` builds the object of a value of parts from its parts by name (without it
        such a value is refused as ``wrong_type``)."""
        value = bytes(value)
        legacy = not value.startswith(MAGIC)
        obj = self._legacy(value) if legacy else self._signed(value)
        if isinstance(obj, _Parts):
            if assemble is None:
                raise _refuse("wrong_type", f"the stored value is made of parts, not a {kind.__qualname__}")
            obj = assemble(obj.parts)
        if not isinstance(obj, kind):
            got, want = type(obj).__qualname__, kind.__qualname__
            raise _refuse("wrong_type", f"the stored value is a {got}, not a {want}")
        return migrate(obj) if legacy and migrate is not None else obj

    def _mac(self, head: bytes, payload: bytes) -> bytes:
        return hmac.new(self._key, head + payload, hashlib.sha256).digest()

    def _signed(self, value: bytes) -> object:
        if len(value) < _HEADER:
            raise _refuse("corrupt", f"a signed state of {len(value)} bytes is shorter than its header")
        version = value[len(MAGIC)]
        if version not in (FORMAT_VERSION, PARTS_VERSION):
            raise _refuse(
                "unknown_version",
                f"state format version {version} is unknown to this release (it reads version "
                f"{FORMAT_VERSION} and {PARTS_VERSION}); was it written by a newer glasswatch? Run that "
                "release, or reset the consumer group and state to rebuild it",
            )
        head, rest = value[: len(MAGIC) + 1 + _KEY_ID_BYTES], value[len(MAGIC) + 1 + _KEY_ID_BYTES :]
        key_id, mac, payload = head[-_KEY_ID_BYTES:], rest[:_MAC_BYTES], rest[_MAC_BYTES:]
        if not hmac.compare_digest(key_id, self.key_id):
            raise _refuse(
                "foreign_key",
                f"state signed with another key (key id {key_id.hex()}, this worker's is "
                f"{self.key_id.hex()}): every worker of one consumer group must share {_KEY_ENV} "
                f"(a worker without it generates its own key in <data_dir>/{KEY_FILE})",
            )
        if not hmac.compare_digest(mac, self._mac(head, payload)):
            raise _refuse("tampered", "state signature does not match: the record was altered or forged")
        return self._load(payload) if version == FORMAT_VERSION else self._load_parts(payload)

    def _load_parts(self, payload: bytes) -> _Parts:
        parts: dict[str, object] = {}
        at, budget = 0, self.max_bytes
        try:
            while at < len(payload):
                (n,) = _U32.unpack_from(payload, at)
                name = payload[at + 4 : at + 4 + n].decode("utf-8", "surrogatepass")
                at += 4 + n
                (n,) = _U32.unpack_from(payload, at)
                blob = payload[at + 4 : at + 4 + n]
                if len(blob) != n:
                    raise ValueError("a part runs past the end of the value")
                at += 4 + n
                parts[name], size = self._load(blob, budget)
                budget -= size
        except (struct.error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            raise _refuse("corrupt", f"state parts are malformed: {exc}") from None
        return _Parts(parts)

    def _legacy(self, value: bytes) -> object:
        if len(value) < 2 or value[0] != 0x78 or int.from_bytes(value[:2], "big") % 31:
            raise _refuse("unrecognised", "the value is neither a signed state nor a previous-release state")
        if not self.accept_legacy:
            raise _refuse(
                "legacy",
                f"unsigned state of the previous release (before the signed format) refused. To carry "
                f"it over, start the upgraded worker once with {_LEGACY_ENV}=true (states are re-signed "
                f"as partitions are written), then remove it; or reset the consumer group and state "
                f"to rebuild from the retained input",
            )
        return self._load(value)

    def _load(self, compressed: bytes, budget: int | None = None) -> Any:
        """The object of one ``zlib(pickle)`` (its decompressed size too, when ``budget`` is given)."""
        limit = self.max_bytes if budget is None else budget
        try:
            inflater = zlib.decompressobj()
            data = inflater.decompress(compressed, max(limit, 1))
        except zlib.error as exc:
            raise _refuse("corrupt", f"state does not decompress: {exc}") from None
        if inflater.unconsumed_tail or len(data) > limit:
            raise _refuse("corrupt", f"state decompresses to more than {self.max_bytes} bytes")
        if not inflater.eof:
            raise _refuse("corrupt", "state is truncated")
        paused = gc.isenabled()
        gc.disable()  # see the module docstring
        try:
            obj = restricted_loads(data)
            return obj if budget is None else (obj, len(data))
        except ForbiddenGlobal as exc:
            raise _refuse("forbidden", f"{exc}: refused (only state classes may be unpickled)") from None
        except (ImportError, AttributeError) as exc:
            raise _refuse("corrupt", f"state names a class this release does not have ({exc})") from None
        except Exception as exc:  # any malformed pickle
            raise _refuse("corrupt", f"state does not unpickle: {type(exc).__name__}: {exc}") from None
        finally:
            if paused:
                gc.enable()


class _Parts:
    """The parts of a :data:`PARTS_VERSION` value by name, before ``assemble``."""

    def __init__(self, parts: dict[str, object]) -> None:
        self.parts = parts


def load_state_key(worker: WorkerSettings) -> bytes:
    """The key that signs this worker's state: ``worker.state_key`` if set, else the content of
    ``<data_dir>/state.key``, generated (random, mode 0600) on first use. Never logged."""
    if worker.state_key is not None:
        text = worker.state_key.get_secret_value().strip()
        source = _KEY_ENV
    else:
        path = worker.data_dir / KEY_FILE
        text = _read_or_create(path)
        source = str(path)
    if len(text) < MIN_KEY_CHARS:
        raise ConfigError(f"the state key from {source} is shorter than {MIN_KEY_CHARS} characters")
    key = text.encode()
    key_id = StateCodec(key).key_id.hex()
    log.info("partition state signed with the key from %s (key id %s)", source, key_id)
    return key


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("state key file %s is readable by others (mode %o): chmod 600 it", path, mode)
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secrets.token_hex(32) + "\n")
    log.warning(
        "generated a state key in %s: workers sharing a consumer group must share one key (%s)",
        path,
        _KEY_ENV,
    )
    return path.read_text(encoding="utf-8").strip()
