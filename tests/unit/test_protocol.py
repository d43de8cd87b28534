"""Client frame decoding and error frames (app/ws/protocol.py)."""

from __future__ import annotations

import json

import pytest

from app.errors import Forbidden, ValidationFailed
from app.ws.protocol import AckData, EmptyData, FrameError, ReadData, SendData, decode, error_frame


def failure(raw: str | bytes) -> FrameError:
    """The error decode raises: a ValidationFailed (the 422 code) that carries the frame's ref."""
    with pytest.raises(FrameError) as info:
        decode(raw)
    return info.value


def test_a_valid_send_frame_decodes_to_its_type_model_and_ref() -> None:
    kind, data, ref = decode(json.dumps({"type": "message", "data": {"chat_id": 3, "content": "hi", "client_msg_id": "c1"}, "ref": "r1"}))
    assert kind == "message"
    assert isinstance(data, SendData)
    assert (data.chat_id, data.content, data.client_msg_id) == (3, "hi", "c1")
    assert ref == "r1"


def test_bytes_frames_decode_like_text() -> None:
    kind, data, ref = decode(b'{"type": "ack", "data": {"inbox_seq": 0}}')
    assert kind == "ack" and isinstance(data, AckData) and data.inbox_seq == 0 and ref is None


def test_pong_accepts_missing_or_arbitrary_data() -> None:
    kind, data, _ = decode('{"type": "pong"}')
    assert kind == "pong" and isinstance(data, EmptyData)
    assert decode('{"type": "pong", "data": {"anything": 1}}')[0] == "pong"


@pytest.mark.parametrize("raw", ["not json", "{", b"\xff\xfe", ""])
def test_text_that_is_not_json_is_refused(raw: str | bytes) -> None:
    error = failure(raw)
    assert error.message == "Frames must be JSON text."
    assert error.ref is None


@pytest.mark.parametrize("raw", ["[]", "1", '"message"', "null"])
def test_json_that_is_not_an_object_is_refused(raw: str) -> None:
    assert "JSON object" in failure(raw).message


def test_an_unknown_type_is_refused_and_keeps_the_ref() -> None:
    error = failure('{"type": "launch_missiles", "data": {}, "ref": "abc"}')
    assert "launch_missiles" in error.message
    assert error.ref == "abc"


def test_the_unknown_type_in_the_message_is_truncated() -> None:
    error = failure(json.dumps({"type": "x" * 1000}))
    assert len(error.message) < 80


@pytest.mark.parametrize("kind", [None, 5, ["message"], {"a": 1}])
def test_a_type_that_is_not_a_string_is_unknown(kind: object) -> None:
    assert "Unknown frame type" in failure(json.dumps({"type": kind, "data": {}})).message


def test_a_long_or_non_string_ref_is_dropped_not_echoed() -> None:
    assert failure(json.dumps({"type": "nope", "ref": "r" * 129})).ref is None
    assert failure(json.dumps({"type": "nope", "ref": 7})).ref is None
    assert failure(json.dumps({"type": "nope", "ref": "r" * 128})).ref == "r" * 128


def test_invalid_data_names_each_bad_field_and_keeps_the_ref() -> None:
    error = failure(json.dumps({"type": "message", "data": {"chat_id": 0, "content": "x"}, "ref": "r9"}))
    assert error.message == "The frame's data is not valid."
    fields = {d["field"] for d in error.details}
    assert {"chat_id", "client_msg_id"} <= fields
    assert error.ref == "r9"


@pytest.mark.parametrize(
    "data",
    [
        {"chat_id": "3", "content": "x", "client_msg_id": "c"},  # strict: no string-to-int coercion
        {"chat_id": True, "content": "x", "client_msg_id": "c"},  # a boolean is not an id
        {"chat_id": 2**63, "content": "x", "client_msg_id": "c"},  # beyond bigint
        {"chat_id": 1, "content": "x", "client_msg_id": ""},
        {"chat_id": 1, "content": "x", "client_msg_id": "c" * 65},
        {"chat_id": 1, "content": "x", "client_msg_id": "c", "extra": 1},  # unknown fields refused
    ],
)
def test_send_data_is_validated_strictly(data: dict) -> None:  # type: ignore[type-arg]
    failure(json.dumps({"type": "message", "data": data}))


def test_read_takes_exactly_one_of_up_to_seq_or_message_ids() -> None:
    assert isinstance(decode('{"type": "read", "data": {"chat_id": 1, "up_to_seq": 0}}')[1], ReadData)
    assert decode('{"type": "read", "data": {"chat_id": 1, "message_ids": [1, 2]}}')[1].message_ids == [1, 2]  # type: ignore[attr-defined]
    failure('{"type": "read", "data": {"chat_id": 1}}')
    failure('{"type": "read", "data": {"chat_id": 1, "up_to_seq": 1, "message_ids": [1]}}')
    failure('{"type": "read", "data": {"chat_id": 1, "message_ids": []}}')
    failure(json.dumps({"type": "read", "data": {"chat_id": 1, "message_ids": list(range(1, 502))}}))


def test_a_negative_ack_is_refused() -> None:
    failure('{"type": "ack", "data": {"inbox_seq": -1}}')


def test_missing_data_is_validated_as_an_empty_object() -> None:
    error = failure('{"type": "typing"}')
    assert [d["field"] for d in error.details] == ["chat_id"]


def test_error_frame_carries_code_message_details_and_ref() -> None:
    error = ValidationFailed("bad", details=[{"field": "x", "message": "m"}])
    assert error_frame(error, "r1") == {
        "type": "error",
        "data": {"code": "validation_error", "message": "bad", "details": [{"field": "x", "message": "m"}]},
        "ref": "r1",
    }


def test_error_frame_omits_absent_details_and_ref() -> None:
    assert error_frame(Forbidden(), None) == {
        "type": "error",
        "data": {"code": "forbidden", "message": "You are not allowed to do this."},
    }


def test_a_decoding_failure_becomes_an_error_frame_that_answers_its_ref() -> None:
    error = failure('{"type": "edit_message", "data": {"message_id": 1}, "ref": "e1"}')
    frame = error_frame(error, error.ref)
    assert frame["ref"] == "e1"
    assert frame["data"]["code"] == "validation_error"
    assert frame["data"]["details"][0]["field"] == "content"


def test_every_decoding_failure_is_a_validation_error_carrying_its_ref() -> None:
    for raw, ref in [("not json", None), ("[]", None), ('{"type": "nope", "ref": "n1"}', "n1")]:
        error = failure(raw)
        assert isinstance(error, ValidationFailed) and error.code == "validation_error"
        assert error.ref == ref


def test_other_errors_carry_no_ref() -> None:
    assert not hasattr(ValidationFailed("bad"), "ref")
