"""The signed state codec: round trip of a full state, refusals, the allowlist, the upgrade."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import logging
import os
import pickle
import stat
import sys
import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from glasswatch.errors import ConfigError, StateRefused
from glasswatch.ingest.validate import Limits, decode
from glasswatch.kafka.app import GlasswatchApp, decode_state, encode_state
from glasswatch.kafka.state_codec import (
    FORMAT_VERSION,
    KEY_FILE,
    MAGIC,
    PARTS_VERSION,
    StateCodec,
    load_state_key,
)
from glasswatch.monitor.digest import state_digest
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.specs import DetectorSpec, MonitorSpec, SignalSpec, StaticBounds
from glasswatch.schemas import AlertKind, Tick
from glasswatch.settings import Settings, WorkerSettings
from glasswatch.testing.simulate import simulate

KEY = b"unit-test-state-key-0123456789"
DATA = Path(__file__).parent / "data"
_NO_SKEW = Limits(max_clock_skew_s=1e12, max_age_s=1e12)
SPEC = MonitorSpec(
    model="m",
    window={"size_seconds": 2.0},
    categorical=("segment",),
    default=SignalSpec(
        static=StaticBounds(upper=1e9),
        detectors=(DetectorSpec(kind="adwin"), DetectorSpec(kind="page_hinkley"), DetectorSpec(kind="kswin")),
    ),
    anomaly={"enabled": True, "warmup_events": 50},
)


def _spec(model: str) -> MonitorSpec:
    return SPEC.model_copy(update={"model": model})


def _messages(n: int, seed: int, first: int = 0) -> list[bytes]:
    recs = simulate(n, n_features=2, seed=seed, change="mean_shift", change_at=n * 2 // 3, first_offset=first)
    recs += simulate(n // 4, n_features=1, seed=seed + 1, model="n", start=recs[-1].event.event_time)
    msgs = [orjson.dumps(r.event.model_dump(mode="json")) for r in recs]
    last = recs[-1].event.event_time
    msgs.append(
        b'{"type":"label","model":"m","prediction_id":"p1","event_time":"2026-01-01T01:00:05+01:00","label":"y"}'
    )
    msgs.append(b"not json")
    msgs.append(Tick(event_time=last + timedelta(seconds=30)).model_dump_json().encode())
    return msgs


def _feed(st: PartitionState, msgs: list[bytes], first: int, batch: int = 300) -> None:
    now = simulate(1)[0].event.event_time
    for i in range(0, len(msgs), batch):
        for off in range(i, min(i + batch, len(msgs))):
            d = decode(msgs[off], now=now, limits=_NO_SKEW)
            st.apply(first + off, d.events, [r.reason for r in d.rejects], d.ticks, reject_model="m")
        st.run_monitors(_spec)
        st.take_alerts()


def full_state() -> PartitionState:
    """Every monitor on (windows, thresholds, ADWIN/Page-Hinkley/KSWIN, Half-Space Trees), two
    models, rejects, labels, a tick, and event times parsed by pydantic (its ``TzInfo``)."""
    st = PartitionState(topic="glasswatch-predictions", partition=2)
    _feed(st, _messages(1500, seed=3), first=0)
    return st


def _sign(payload: bytes, key: bytes = KEY, version: int = FORMAT_VERSION) -> bytes:
    """The envelope written independently of the codec: magic | version | key id | HMAC | payload."""
    key_id = hmac.new(key, b"glasswatch state key id", hashlib.sha256).digest()[:8]
    head = MAGIC + bytes([version]) + key_id
    return head + hmac.new(key, head + payload, hashlib.sha256).digest() + payload


def _refusal(codec: StateCodec, value: bytes) -> StateRefused:
    with pytest.raises(StateRefused) as info:
        codec.decode(value, PartitionState)
    return info.value


# --- round trip -----------------------------------------------------------------------------


def test_a_full_state_round_trips_and_stays_in_lockstep() -> None:
    st = full_state()
    assert set(st.monitors) == {"m", "n"} and st.reject_rate is not None and st.rejects["not_json"] == 1
    codec = StateCodec(KEY)
    value = encode_state(st, codec)
    assert value.startswith(MAGIC + bytes([PARTS_VERSION]) + codec.key_id)  # one part per model
    twin = decode_state(value, codec)
    assert state_digest(twin) == state_digest(st)
    more = _messages(600, seed=4)
    _feed(st, more, first=st.last_offset + 1)
    _feed(twin, more, first=twin.last_offset + 1)
    assert state_digest(twin) == state_digest(st)  # restored River objects (bound methods too) work


def test_the_envelope_is_the_documented_format() -> None:
    codec = StateCodec(KEY)
    value = codec.encode({"a": 1})
    assert value == _sign(zlib.compress(pickle.dumps({"a": 1}, protocol=5), 1))
    assert codec.decode(_sign(zlib.compress(pickle.dumps([1, 2]))), list) == [1, 2]


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", [0, 4, 5, 20, 45, 60, -1])
def test_a_changed_byte_is_refused(where: int) -> None:
    codec = StateCodec(KEY)
    value = bytearray(codec.encode(PartitionState(topic="t", last_offset=7)))
    value[where] ^= 0x01
    exc = _refusal(codec, bytes(value))
    # magic → not a signed state; version → unknown; key id → foreign; MAC or payload → tampered
    expected = {
        0: "unrecognised",
        4: "unknown_version",
        5: "foreign_key",
        20: "tampered",
        45: "tampered",
        60: "tampered",
        -1: "tampered",
    }
    assert exc.reason == expected[where]


def test_a_state_signed_with_another_key_is_refused_with_what_to_do() -> None:
    other = StateCodec(b"the key of another worker group")
    exc = _refusal(StateCodec(KEY), other.encode(PartitionState()))
    assert exc.reason == "foreign_key"
    assert "GLASSWATCH_WORKER__STATE_KEY" in str(exc) and other.key_id.hex() in str(exc)
    assert KEY.decode() not in str(exc)


def test_an_unknown_format_version_is_refused_clearly() -> None:
    exc = _refusal(StateCodec(KEY), _sign(zlib.compress(pickle.dumps(PartitionState())), version=3))
    assert exc.reason == "unknown_version"
    assert "format version 3" in str(exc) and "reads version 1" in str(exc)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "unrecognised"),
        (b"garbage", "unrecognised"),
        (MAGIC + b"\x01short", "corrupt"),
        (_sign(b"not zlib"), "corrupt"),
        (_sign(zlib.compress(b"not a pickle")), "corrupt"),
        (_sign(zlib.compress(pickle.dumps(PartitionState()))[:-3]), "corrupt"),
        (_sign(zlib.compress(pickle.dumps({"a": 1}))), "wrong_type"),
    ],
)
def test_malformed_values_are_refused(value: bytes, reason: str) -> None:
    assert _refusal(StateCodec(KEY), value).reason == reason


def test_a_zlib_bomb_is_refused_without_inflating_it() -> None:
    bomb = _sign(zlib.compress(b"\x00" * 5_000_000, 9))
    exc = _refusal(StateCodec(KEY, max_bytes=1_000_000), bomb)
    assert exc.reason == "corrupt" and "more than 1000000 bytes" in str(exc)


# --- the allowlist (behind a valid signature) -------------------------------------------------


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return (os.system, (self.command,))


def test_a_signed_payload_that_would_run_a_command_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    codec = StateCodec(KEY)
    value = codec.encode(_System(f"touch {marker}"))  # signed with the right key
    exc = _refusal(codec, value)
    assert exc.reason == "forbidden" and "system" in str(exc)
    assert not marker.exists()
    assert pickle.loads(zlib.decompress(value[45:])) == 0 and marker.exists()  # the payload was live


def _global_call(module: str, name: str, *args: str) -> bytes:
    """A protocol-0 pickle calling ``module.name(*args)``."""
    arg_ops = b"".join(b"V" + a.encode() + b"\n" for a in args)
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n(" + arg_ops + b"tR."


@pytest.mark.parametrize(
    ("module", "name", "args"),
    [
        ("builtins", "eval", ("__import__('os').system('false')",)),
        ("builtins", "exec", ("x = 1",)),
        ("builtins", "__import__", ("os",)),
        ("builtins", "open", ("/etc/passwd",)),
        ("subprocess", "check_output", ("id",)),
        ("os", "system", ("true",)),
        ("posix", "system", ("true",)),
        ("glasswatch.monitor.stats", "np.load", ("x",)),  # dotted: an import of an allowed module
        ("glasswatch.monitor.digest", "hashlib", ()),  # a module an allowed module imported
        ("glasswatch.monitor.stats", "merge_states", ()),  # a function, not a class
        ("glasswatch.monitor.partition", "__builtins__", ()),
        ("glasswatch.kafka.app", "create_app", ()),  # outside the state packages
        ("river.stream", "iter_csv", ("/etc/passwd",)),
    ],
)
def test_globals_outside_the_allowlist_are_refused(module: str, name: str, args: tuple[str, ...]) -> None:
    exc = _refusal(StateCodec(KEY), _sign(zlib.compress(_global_call(module, name, *args))))
    assert exc.reason == "forbidden" and f"{module}.{name}" in str(exc)


def test_getattr_reaches_only_the_bound_methods_river_stores() -> None:
    # getattr(Counter(), "__class__") would open the way to type internals
    evil = b"cbuiltins\ngetattr\n(ccollections\nCounter\n)RV__class__\ntR."
    exc = _refusal(StateCodec(KEY), _sign(zlib.compress(evil)))
    assert exc.reason == "forbidden" and "getattr" in str(exc)


# --- upgrade from the previous release -------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_prev_state", DATA / "make_prev_state.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_previous_release_state_is_refused_by_default_with_the_migration_path() -> None:
    value = (DATA / "state_v0_prev_release.bin").read_bytes()
    exc = _refusal(StateCodec(KEY), value)
    assert exc.reason == "legacy"
    assert "GLASSWATCH_WORKER__ACCEPT_LEGACY_STATE=true" in str(exc) and "reset the consumer group" in str(
        exc
    )


def test_the_previous_release_state_is_read_with_the_flag() -> None:
    gen = _generator()
    expected: dict[str, Any] = json.loads(gen.FIGURES.read_text())
    codec = StateCodec(KEY, accept_legacy=True)
    st = decode_state(gen.BIN.read_bytes(), codec)
    got = json.loads(json.dumps(gen.figures(st)))
    assert expected["monitors"] == ["m", "n"] and got["monitors"] == []  # monitors restart warm-up
    assert {k: v for k, v in got.items() if k != "monitors"} == {
        k: v for k, v in expected.items() if k != "monitors"
    }
    assert got["accepted"] == 1102 and got["models"]["m"]["features"]["x0"]["count"] == 900
    # it keeps working with today's code: statistics, monitors (rebuilt) and the dead-letter rate
    recs = simulate(3000, n_features=2, seed=13, start=st.max_event_time, first_offset=st.last_offset + 1)
    alerts = []
    for r in recs:
        bad = r.coord.offset % 3 == 0
        st.apply(r.coord.offset, [] if bad else [r.event], ["invalid"] if bad else [], reject_model="m")
        alerts += st.take_alerts()
    out = st.run_monitors(_spec)
    assert sum(len(o.windows) for _, o in out) > 0 and set(st.monitors) == {"m"}
    assert any(a.kind is AlertKind.DEAD_LETTERS for a in alerts)
    assert st.models["m"].features["x0"].count == 900 + 2000
    # and it is written back signed, readable without the flag
    again = decode_state(encode_state(st, codec), StateCodec(KEY))
    assert state_digest(again) == state_digest(st)


def test_a_legacy_payload_is_still_restricted(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    legacy = zlib.compress(pickle.dumps(_System(f"touch {marker}"), protocol=5), 1)
    exc = _refusal(StateCodec(KEY, accept_legacy=True), legacy)
    assert exc.reason == "forbidden" and not marker.exists()


# --- the key ----------------------------------------------------------------------------------


def test_without_a_configured_key_one_is_generated_once_private_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = WorkerSettings(data_dir=tmp_path / "w")
    with caplog.at_level(logging.DEBUG):
        key = load_state_key(worker)
        assert load_state_key(worker) == key  # the same key on the next start
    path = tmp_path / "w" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) >= 32
    text = caplog.text + repr(StateCodec(key))
    assert key.decode() not in text and str(path) in caplog.text
    # the file's content is what GLASSWATCH_WORKER__STATE_KEY takes to share it
    shared = WorkerSettings(data_dir=tmp_path / "other", state_key=SecretStr(path.read_text()))
    assert StateCodec(load_state_key(shared)).key_id == StateCodec(key).key_id


def test_a_configured_key_is_used_and_a_short_one_refused_without_echoing_it(tmp_path: Path) -> None:
    worker = WorkerSettings(data_dir=tmp_path, state_key=SecretStr("group-wide-secret-key"))
    assert load_state_key(worker) == b"group-wide-secret-key" and not (tmp_path / KEY_FILE).exists()
    with pytest.raises(ConfigError) as info:
        load_state_key(WorkerSettings(data_dir=tmp_path, state_key=SecretStr("tiny-secret")))
    assert "tiny-secret" not in str(info.value) and "GLASSWATCH_WORKER__STATE_KEY" in str(info.value)
    assert "group-wide-secret-key" not in Settings(worker=worker).model_dump_json()


# --- the app: a refused state means an empty partition, logged once ------------------------------


def test_read_state_turns_a_refused_value_into_empty_state_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    codec = StateCodec(KEY)
    forged = zlib.compress(pickle.dumps(_System("true")))
    gw = GlasswatchApp(
        app=None,
        inputs=None,
        dead_letters=None,
        windows=None,
        alerts=None,
        state={
            "p:0": forged,
            "p:1": encode_state(PartitionState(topic="p", partition=1, last_offset=4), codec),
        },
        settings=Settings(),
        codec=codec,
    )
    with caplog.at_level(logging.WARNING, logger="glasswatch.kafka.app"):
        assert gw.read_state("p:0") is None
        assert gw.read_state("p:0") is None
        states = gw.read_states()
    assert list(states) == ["p:1"] and states["p:1"].last_offset == 4
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and "p:0" in refused[0].getMessage()
    assert "restarts from empty state at the committed offset" in refused[0].getMessage()


def _app(codec: StateCodec, state: dict[str, bytes]) -> GlasswatchApp:
    return GlasswatchApp(
        app=None,
        inputs=None,
        dead_letters=None,
        windows=None,
        alerts=None,
        state=state,
        settings=Settings(),
        codec=codec,
    )


def test_read_state_of_a_value_signed_with_another_workers_key_is_a_config_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    other_key = b"the key of another worker of the group"
    theirs = encode_state(PartitionState(topic="p", partition=0, last_offset=4), StateCodec(other_key))
    tampered = bytearray(encode_state(PartitionState(topic="p", partition=1), StateCodec(KEY)))
    tampered[-1] ^= 0x01
    gw = _app(StateCodec(KEY), {"p:0": theirs, "p:1": bytes(tampered)})
    with caplog.at_level(logging.DEBUG, logger="glasswatch.kafka.app"), pytest.raises(ConfigError) as info:
        gw.read_state("p:0")
    message = str(info.value)
    assert "workers of one consumer group must share GLASSWATCH_WORKER__STATE_KEY" in message
    assert "p:0" in message and StateCodec(other_key).key_id.hex() in message
    assert KEY.decode() not in message and other_key.decode() not in message
    assert gw.state["p:0"] == theirs  # nothing written over it
    assert not [r for r in caplog.records if "restarts from empty state" in r.getMessage()]
    assert gw.read_state("p:1") is None  # other refusals keep restarting the partition empty
    assert gw.read_states() == {}  # the dashboards' view leaves both out, as before


def _pickled_as(obj: object, cls: type, module: str, name: str, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """``obj`` pickled while ``cls`` lives at ``module.name`` (where an earlier release had it)."""
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, module, sys.modules.get(module) or ModuleType(module))
        patch.setattr(sys.modules[module], name, cls, raising=False)
        where = cls.__module__, cls.__qualname__
        cls.__module__, cls.__qualname__ = module, name
        try:
            return pickle.dumps(obj, protocol=5)
        finally:
            cls.__module__, cls.__qualname__ = where


@pytest.mark.parametrize(
    ("cls_path", "old_module", "old_name"),
    [
        ("glasswatch.monitor.closed_window.ClosedWindow", "glasswatch.monitor.windows", "ClosedWindow"),
        ("glasswatch.monitor.closed_window.ClosedWindow", "glasswatch.core.windows", "ClosedWindow"),
        ("glasswatch.monitor.signal_state.SignalState", "glasswatch.monitor.model_monitor", "_Signal"),
        ("glasswatch.monitor.signal_state.SignalState", "glasswatch.core.monitor", "_Signal"),
    ],
)
def test_a_state_stored_before_a_class_moved_module_is_read(
    cls_path: str, old_module: str, old_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glasswatch.monitor.closed_window import ClosedWindow

    st = full_state()
    monitor = st.monitors["m"]
    assert monitor._signals  # the thresholds and detectors of every signal are in the state
    last = monitor.windows.flush() or monitor.windows.advance(st.max_event_time + timedelta(minutes=1))
    monitor.windows._ready.extend(last[-1:])  # a window closed but not yet returned is state too
    assert isinstance(monitor.windows._ready[0], ClosedWindow)
    module, _, name = cls_path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    payload = _pickled_as(st, cls, old_module, old_name, monkeypatch)
    assert old_module.encode() in payload and module.encode() not in payload  # only the old path
    codec = StateCodec(KEY)
    twin = decode_state(_sign(zlib.compress(payload, 1)), codec)
    assert state_digest(twin) == state_digest(st)
    assert type(twin.monitors["m"].windows._ready[0]) is ClosedWindow
