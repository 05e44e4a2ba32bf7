"""pyarrow tables, record batches, arrays, schemas, types and scalars, by content.

Imported by the registry only once a pyarrow value is fingerprinted. Data is hashed as
its Arrow IPC stream after combining chunks, so equal tables chunked differently match;
values in null slots are read as stored.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .values import RawBytes, register_builtin


def _ipc(batches: Any, schema: Any) -> RawBytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    data = sink.getvalue()
    return RawBytes(data.size, [memoryview(data)])


def _table(table: Any) -> object:
    table = table.combine_chunks()
    return ("table", table.num_rows, _ipc(table.to_batches(), table.schema))


def _batch(batch: Any) -> object:
    return ("batch", batch.num_rows, _ipc([batch], batch.schema))


def _array(array: Any) -> object:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    batch = pa.record_batch([array], names=[""])
    return ("array", str(array.type), len(array), _ipc([batch], batch.schema))


def _schema(schema: Any) -> object:
    data = schema.serialize()
    return ("schema", RawBytes(data.size, [memoryview(data)]))


def _data_type(data_type: Any) -> object:
    return ("type", _schema(pa.schema([pa.field("", data_type)])))


def _scalar(scalar: Any) -> object:
    return ("scalar", _array(pa.array([scalar.as_py()], type=scalar.type)))


register_builtin("pyarrow.Table", _table, immutable=True)
register_builtin("pyarrow.RecordBatch", _batch, immutable=True)
register_builtin("pyarrow.Array", _array, immutable=True)
register_builtin("pyarrow.ChunkedArray", _array, immutable=True)
register_builtin("pyarrow.Schema", _schema, immutable=True)
register_builtin("pyarrow.DataType", _data_type, immutable=True)
register_builtin("pyarrow.Scalar", _scalar, immutable=True)
