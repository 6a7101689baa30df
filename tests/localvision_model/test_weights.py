"""The weights reader: every tensor of the legacy torch file, and nothing but tensors."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from localvision.ml.weights import LEGACY_MAGIC, WeightsFormatError, load_state_dict, weights_path


def test_reads_all_tensors_with_their_layout() -> None:
    state = load_state_dict(weights_path())
    assert len(state) == 296
    assert sum(v.size for v in state.values()) == 4_694_073
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    # The file stores convolutions channels-last (strided views); the reader hands out plain arrays.
    # That the strides are honoured is proven by the ImageNet answers in test_graph.py.
    assert all(v.flags.c_contiguous for v in state.values())
    assert np.all(state["_bn0.running_var"] >= 0)


class _RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned > pwned.txt",))


def test_refuses_objects_other_than_tensors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    path.write_bytes(
        pickle.dumps(LEGACY_MAGIC, protocol=2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps({"little_endian": True}, protocol=2)
        + pickle.dumps({"w": _RunsCode()}, protocol=2)
    )
    with pytest.raises(WeightsFormatError, match="unexpected object"):
        load_state_dict(path)
    assert not (tmp_path / "pwned.txt").exists()


def test_refuses_other_formats(tmp_path: Path) -> None:
    zipped = tmp_path / "new.pth"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("archive/data.pkl", b"")
    with pytest.raises(WeightsFormatError, match="zip format"):
        load_state_dict(zipped)
    other = tmp_path / "other.pth"
    other.write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(WeightsFormatError, match="magic"):
        load_state_dict(other)
