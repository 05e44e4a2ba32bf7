"""scipy sparse matrices and arrays, by their canonical coordinate form.

Imported by the registry only once a scipy value is fingerprinted. Duplicates are summed
and explicit zeros dropped, so equal matrices stored differently (CSR with unsorted
indices, int32 or int64 indices) match; the class (csr, csc, ...) still counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .values import register_builtin


def _sparse(matrix: Any) -> object:
    coo = matrix.tocoo(copy=True)
    coo.sum_duplicates()
    coo.eliminate_zeros()
    coords = tuple(np.asarray(c, dtype=np.int64) for c in coo.coords)
    return (tuple(matrix.shape), matrix.dtype, coords, np.asarray(coo.data))


register_builtin("scipy.sparse.spmatrix", _sparse)
register_builtin("scipy.sparse.sparray", _sparse)
