"""Fusion of ranked lists, against hand-computed values."""

from __future__ import annotations

import pytest

from sharpnotes.app.retrieval import Filters, fuse, minmax


def test_minmax_normalises_to_unit_range() -> None:
    assert minmax({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert minmax({"a": 5.0}) == {"a": 1.0}


def test_weighted_minmax_fusion() -> None:
    bm25 = [("a", 10.0), ("b", 5.0), ("c", 0.0)]
    dense = [("b", 0.9), ("d", 0.5)]
    fused = dict(fuse([bm25, dense], [0.4, 0.6], "minmax"))
    assert fused["a"] == pytest.approx(0.4)
    assert fused["b"] == pytest.approx(0.4 * 0.5 + 0.6 * 1.0)
    assert fused["d"] == pytest.approx(0.0)
    assert next(iter(dict(fuse([bm25, dense], [0.4, 0.6], "minmax")))) == "b"


def test_reciprocal_rank_fusion() -> None:
    fused = dict(fuse([[("a", 9), ("b", 1)], [("b", 0.9), ("a", 0.1)]], [1, 1], "rrf", rrf_k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["a"] == pytest.approx(fused["b"])


def test_filters_match_folder_tag_and_type() -> None:
    f = Filters(folder="detection/", tag="#DETR", ext="md")
    assert f.matches("detection/detr.md", ["detr"])
    assert not f.matches("detection-old/detr.md", ["detr"])
    assert not f.matches("detection/detr.pdf", ["detr"])
    assert not f.matches("detection/detr.md", ["vision"])
