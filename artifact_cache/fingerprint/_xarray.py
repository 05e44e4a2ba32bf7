"""xarray datasets, data arrays and variables, by content.

Imported by the registry only once an xarray value is fingerprinted. A dataset is its
dimensions, coordinates, data variables (dims, attrs, values) and attrs; the order of
variables does not matter, as for ``Dataset.identical``.
"""

from __future__ import annotations

from typing import Any

from .values import register_builtin


def _dataset(value: Any) -> object:
    return value.to_dict(data="array", encoding=False)


def _variable(variable: Any) -> object:
    return (tuple(variable.dims), dict(variable.attrs), variable.values)


register_builtin("xarray.Dataset", _dataset)
register_builtin("xarray.DataArray", _dataset)
register_builtin("xarray.Variable", _variable)
