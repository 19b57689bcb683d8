"""Read a DataFrame pickled by pandas 3 under pandas 2 (the index-constitution package ships its
data that way, and this toolkit pins pandas < 3 for backtrader and quantstats).

pandas 3 pickles string columns as ``StringArray`` blocks whose state pandas 2 cannot restore
(``NotImplementedError``). :func:`read_pandas3_pickle` restores such blocks as plain object
columns and leaves everything else to pandas' own unpickling. Only for trusted files (a pickle can
run code): here, the data files of an installed package.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

import numpy as np
import pandas as pd


class _Deferred:
    """An extension array whose state arrives after construction (pickle's BUILD step)."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def values(self, ndim: int) -> Any:
        parts = self.state if isinstance(self.state, tuple) else (self.state,)
        arr = next(x for x in parts if isinstance(x, np.ndarray))
        if "String" in self.cls.__name__:
            arr = arr.astype(object)
        return arr.reshape(1, -1) if ndim == 2 and arr.ndim == 1 else arr


def _backed(cls: type, checksum: int, state: Any) -> _Deferred:
    out = _Deferred(cls)
    if state is not None:
        out.__setstate__(state)
    return out


def _block(values: Any, placement: Any, ndim: int) -> Any:
    from pandas._libs.internals import _unpickle_block

    if isinstance(values, _Deferred):
        values = values.values(ndim)
    return _unpickle_block(values, placement, ndim)


def _index(cls: type, d: dict[str, Any]) -> pd.Index:
    from pandas.core.indexes.base import _new_Index

    return _new_Index(cls, {k: v.values(1) if isinstance(v, _Deferred) else v for k, v in d.items()})


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name == "__pyx_unpickle_NDArrayBacked":
            return _backed
        if name == "_unpickle_block":
            return _block
        if name == "_new_Index":
            return _index
        if module.startswith("numpy._core"):  # numpy 2 module names, read by numpy 1
            module = "numpy.core" + module[len("numpy._core"):]
        return super().find_class(module, name)


def read_pandas3_pickle(fh: IO[bytes]) -> pd.DataFrame:
    """The DataFrame pickled in ``fh`` (by pandas 3 or 2)."""
    out = _Unpickler(fh).load()
    if not isinstance(out, pd.DataFrame):
        raise TypeError(f"the pickle holds a {type(out).__name__}, not a DataFrame")
    return out
