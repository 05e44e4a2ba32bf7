"""The fields added by memoised keys and signing are checked like every other field."""

from __future__ import annotations

from typing import Any

import pytest

import artifact_cache as ac
from artifact_cache.fingerprint.recipe import KeyRecipe
from artifact_cache.info import RECORD_FIELDS

BASE: dict[str, Any] = {
    "step_id": "fit",
    "key": "default",
    "digest": "ab" * 16,
    "size": 3,
    "serializer": "pickle",
    "python_type": "builtins.list",
    "created": "2026-01-01T00:00:00+00:00",
}


@pytest.mark.parametrize(
    "field, value",
    [
        ("recipe", ["m:f"]),
        ("recipe", {"version": "1"}),  # no identity
        ("recipe", {"identity": 5}),
        ("recipe", {"identity": "m:f", "arguments": {"x": 1}}),
        ("recipe", {"identity": "m:f", "code_parts": ["a"]}),
        ("payload_hash", "md5:" + "0" * 32),
        ("payload_hash", "sha256:" + "0" * 63),
        ("payload_hash", "sha256:../../etc/passwd"),
        ("payload_hash", 12),
        ("signature", 12),
    ],
)
def test_bad_values_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ac.RecordError, match=field):
        ac.ArtifactInfo.from_dict({**BASE, field: value})


OPTIONAL = {
    "mime_type", "code_fingerprint", "duration", "args_repr", "uri", "recipe",
    "payload_hash", "signature", "inline", "compression",
}  # fmt: skip


@pytest.mark.parametrize("field", sorted(RECORD_FIELDS))
def test_null_is_none_only_in_optional_fields(field: str) -> None:
    """A JSON null reads as None in the optional fields, and is refused in every other."""
    if field in OPTIONAL:
        assert getattr(ac.ArtifactInfo.from_dict({**BASE, field: None}), field) is None
    else:
        with pytest.raises(ac.RecordError, match=field):
            ac.ArtifactInfo.from_dict({**BASE, field: None})


@pytest.mark.parametrize(
    "text, ok",
    [
        *[("", True), ("QUJD", True), ("QUI=", True), ("QQ==", True), ("QUJDRA==", True)],
        *[("+/09", True), ("QUJ", False), ("QQ=", False), ("Q===", False), ("QQ=Q", False)],
        *[("=QUJ", False), ("QUJD=", False), ("QUJDRA", False), ("QU-D", False)],
        *[("QU JD", False), ("QUJD\n", False), ("QUJD====", False), ("QUJDR===", False)],
    ],
)
def test_inline_is_padded_base64(text: str, ok: bool) -> None:
    """Base64 text as b64encode writes it, in groups of four, padded, nothing else."""
    size = max(0, len(text) // 4 * 3 - text[-2:].count("="))
    record = {**BASE, "size": size, "inline": text}
    if ok:
        assert ac.ArtifactInfo.from_dict(record).inline == text
    else:
        with pytest.raises(ac.RecordError, match="inline"):
            ac.ArtifactInfo.from_dict(record)


def test_good_values_round_trip() -> None:
    recipe = KeyRecipe(identity="m:f", version="1", arguments={"x": "ab"}, format="step-key/2")
    info = ac.ArtifactInfo.from_dict(
        {
            **BASE,
            "recipe": recipe.to_dict(),
            "payload_hash": "blake3:" + "0f" * 32,
            "signature": "ff" * 32,
        }
    )
    assert info.recipe == recipe
    assert ac.ArtifactInfo.from_json(info.to_json()) == info


class TestParsedOnce:
    """Records are parsed and checked once per distinct text; as records cannot change,
    every reader of one text gets the same record."""

    def test_same_text_gives_one_unchangeable_record(self) -> None:
        text = ac.ArtifactInfo.from_dict({**BASE, "tags": {"a": "1"}, "future": 1}).to_json()
        first = ac.ArtifactInfo.from_json(text)
        with pytest.raises(TypeError):
            first.tags["a"] = "changed"  # type: ignore[index]
        with pytest.raises(TypeError):
            first.extra["future"] = 2  # type: ignore[index]
        second = ac.ArtifactInfo.from_json(text)
        assert second.tags == {"a": "1"} and second.extra == {"future": 1}
        assert second is first

    def test_changed_text_is_parsed_afresh(self) -> None:
        one = ac.ArtifactInfo.from_dict(BASE).to_json()
        assert ac.ArtifactInfo.from_json(one).size == 3
        assert ac.ArtifactInfo.from_json(one.replace('"size": 3', '"size": 4')).size == 4
        with pytest.raises(ac.RecordError, match="size"):
            ac.ArtifactInfo.from_json(one.replace('"size": 3', '"size": -1'))


@pytest.mark.parametrize(
    "digest, version, written",
    [
        ("ab" * 16, "20260101T000000000000Z-abababab", False),  # derived: not written
        ("ab" * 16, "20260101T000000000001Z-abababab", True),  # the tail, another time
        ("ab" * 16, "20260101T000000000000Z-1a2b3c4d", True),  # a save's random tail
        ("ab" * 16, "20260101T000000000000Z-00000000", True),
        ("not a digest", "20260101T000000000000Z-00000000", False),  # derived from no digest
    ],
)
def test_version_is_written_unless_derived(digest: str, version: str, written: bool) -> None:
    """A record's text names its version unless it is the one its time and digest
    derive (so a record from before versions reads back as the same text)."""
    info = ac.ArtifactInfo(**dict(BASE, digest=digest), version=version)
    assert ("version" in info.to_dict()) is written
    assert info.to_dict().get("version", info.derived_version) == version
