"""The completion marker's record and the known content built from it."""

from __future__ import annotations

from mlstack.content.completion import Known, Sealed
from mlstack.content.manifest import FileEntry, Manifest

A, B = "a" * 64, "b" * 64
V1 = Manifest.of([FileEntry("x.csv", 1, A), FileEntry("y.csv", 2, B)])
V2 = Manifest.of([FileEntry("x.csv", 1, A), FileEntry("z.csv", 3, "c" * 64)])


def test_a_marker_of_an_earlier_release_reads_with_no_etags() -> None:
    sealed = Sealed.from_json(V1.to_json())  # what earlier releases wrote
    assert (sealed.manifest, dict(sealed.etags)) == (V1, {})


def test_a_marker_with_etags_still_reads_as_its_manifest() -> None:
    """An earlier release reading a newer marker sees the same manifest and digest."""
    text = Sealed(V1, {"x.csv": '"0x1"'}).to_json()
    assert Manifest.from_json(text) == V1
    assert Sealed.from_json(text) == Sealed(V1, {"x.csv": '"0x1"'})


def test_known_keeps_the_first_blob_of_each_content_and_only_its_etag() -> None:
    known = Known()
    known.add("v2", V2, {"x.csv": '"0x2"', "z.csv": '"0x3"'})
    known.add("v1", V1)  # no etags recorded
    assert known.blobs == {A: "v2/x.csv", "c" * 64: "v2/z.csv", B: "v1/y.csv"}
    assert known.etags == {"v2/x.csv": '"0x2"', "v2/z.csv": '"0x3"'}
