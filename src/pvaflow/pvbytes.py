"""PvObject <-> bytes: an explicit, pickle-free format that keeps structure, type ids and values.

Decoding never executes code: the bytes describe field types and values,
and only those are read. Layout (``pvaflow-pvobject-1``)::

    b"PVB1"  u32 structure length  u32 values length          (little endian)
    structure  JSON: {"id": top type id, "fields": [[name, type], ...]}
    values     JSON: the field values, each numeric array replaced by
               {"o": byte offset in the array area, "n": element count}
    padding    zero bytes up to a multiple of 8
    arrays     each numeric array's raw bytes (native little endian), each
               padded to a multiple of 8; their element types are in the structure

Types in the structure JSON: a scalar is its name (``"int"``, ``"string"``),
a scalar array ``["int"]``, a structure ``{"id": ..., "fields": [...]}``, a
structure array ``[{...}]``, a union ``{"union": [[name, type], ...]}``, a
variant union ``{"union": null}`` and a union array ``[{"union": ...}]``.
Values are what pvaccess's ``toDict()`` gives: a structure is an object
by field name, a union ``[{field name: value} or {}, types]`` (the types
part is ignored when read: the structure says them), a variant union
``null`` or ``[content type, content values]`` (content type in the form
above). Variant unions inside unions are refused.

Type ids of structures are kept at every depth outside unions; inside a
union, pvaccess sets no type ids, so none are kept there.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from typing import Any

import numpy as np
import pvaccess as pva

from .errors import SerializationError

MAGIC = b"PVB1"
FORMAT_NAME = "pvaflow-pvobject-1"
_PREFIX = struct.Struct("<4sII")
_ALIGNMENT = 8
MAX_STRUCTURES = 32  # structures a Deserializer keeps built
_NO_TYPE_ID = "structure"

SCALAR_NAMES = {
    pva.BOOLEAN: "boolean", pva.BYTE: "byte", pva.UBYTE: "ubyte", pva.SHORT: "short", pva.USHORT: "ushort",
    pva.INT: "int", pva.UINT: "uint", pva.LONG: "long", pva.ULONG: "ulong", pva.FLOAT: "float",
    pva.DOUBLE: "double", pva.STRING: "string",
}
SCALAR_TYPES = {name: scalar for scalar, name in SCALAR_NAMES.items()}
ARRAY_DTYPES = {
    "boolean": np.dtype(np.bool_), "byte": np.dtype(np.int8), "ubyte": np.dtype(np.uint8),
    "short": np.dtype(np.int16), "ushort": np.dtype(np.uint16), "int": np.dtype(np.int32),
    "uint": np.dtype(np.uint32), "long": np.dtype(np.int64), "ulong": np.dtype(np.uint64),
    "float": np.dtype(np.float32), "double": np.dtype(np.float64),
}


def _padding(length: int) -> int:
    return -length % _ALIGNMENT


# --- type ids -----------------------------------------------------------------
# pvaccess has no type-id getter; its text form names each structure's id. It is
# read from a cheap copy whose arrays and strings are emptied (pvData shares the
# array memory, so the original is untouched) and which then holds no text that
# could look like a field.
def _emptied(value: Any) -> Any:
    if isinstance(value, str):
        return ""
    if isinstance(value, np.ndarray):
        return []
    if isinstance(value, dict):
        return {name: _emptied(item) for name, item in value.items()}
    if isinstance(value, tuple):  # union: (values, types)
        return (_emptied(value[0]), value[1])
    if isinstance(value, list):
        return [_emptied(value[0])] if value and isinstance(value[0], dict) else []
    return value


class _TextNode:
    __slots__ = ("children", "name", "type_name")

    def __init__(self, type_name: str, name: str) -> None:
        self.type_name = type_name
        self.name = name
        self.children: list[_TextNode] = []


def _text_tree(text: str) -> _TextNode:
    """The printed structure as a tree of (type, name) nodes, by indentation (4 spaces a level)."""
    lines = text.splitlines()
    root = _TextNode(lines[0].split()[0], "")
    stack = [(0, root)]
    for line in lines[1:]:
        words = line.split()
        if not words:
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 4
        node = _TextNode(words[0], words[1] if len(words) > 1 else "")
        while stack[-1][0] >= depth:
            stack.pop()
        stack[-1][1].children.append(node)
        stack.append((depth, node))
    return root


def _struct_id(type_name: str) -> str:
    return "" if type_name == _NO_TYPE_ID else type_name


# --- description ----------------------------------------------------------------
def _describe(types: Any, node: _TextNode | None) -> Any:
    """The JSON type of a field from its pvaccess structure-dict entry and its printed node."""
    if isinstance(types, dict):
        children = {child.name: child for child in node.children} if node else {}
        return {"id": _struct_id(node.type_name) if node else "",
                "fields": [[name, _describe(item, children.get(name))] for name, item in types.items()]}
    if isinstance(types, tuple):
        return {"union": [[name, _describe(item, None)] for name, item in types[0].items()] if types else None}
    if isinstance(types, list):
        element = types[0]
        if isinstance(element, (dict, tuple)):
            element_node = None
            if node is not None and isinstance(element, dict):  # children: the (emptied) elements
                element_node = node.children[0] if node.children else _TextNode(node.type_name[:-2], "")
            return [_describe(element, element_node)]
        return [SCALAR_NAMES[element]]
    return SCALAR_NAMES[types]


def describe(pv: pva.PvObject) -> dict[str, Any]:
    """The structure of ``pv`` (JSON-ready), with the type ids of its structures."""
    skeleton = pv.copy()
    skeleton.set(_emptied(skeleton.toDict()))
    return _describe(pv.getStructureDict(), _text_tree(str(skeleton)))


# --- encoding -------------------------------------------------------------------
# Values are pvaccess's toDict() written by the C JSON encoder: numeric arrays go
# through ``default`` (raw bytes, referenced by offset and length), and only the
# variant unions are rewritten first, to carry their content's type in our form.
_ANY = "*"  # a path step through every element of an array


def _variant_paths(kind: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], bool]]:
    """Where the variant unions are: (path, is an array of them); refused inside unions."""
    if isinstance(kind, list):
        element = kind[0]
        if isinstance(element, dict) and element.get("union", "") is None:
            return [(path, True)]
        return _variant_paths(element, (*path, _ANY)) if isinstance(element, dict) else []
    if not isinstance(kind, dict):
        return []
    if "union" in kind:
        if kind["union"] is None:
            return [(path, False)]
        if any(_variant_paths(field, ()) for _, field in kind["union"]):
            raise SerializationError("a variant union inside a union is not supported")
        return []
    return [found for name, field in kind["fields"] for found in _variant_paths(field, (*path, name))]


def _variant_value(value: tuple[dict[str, Any], dict[str, Any]]) -> Any:
    values, types = value
    return [_describe(types, None), values] if values else None


def _rewrite_variants(values: dict[str, Any], path: tuple[str, ...], is_array: bool) -> None:
    *parents, last = path  # the last step is a field name
    containers = [values]
    for step in parents:
        containers = ([item for container in containers for item in container] if step == _ANY
                      else [container[step] for container in containers])
    for container in containers:
        item = container[last]
        container[last] = [_variant_value(element) for element in item] if is_array else _variant_value(item)


class _Arrays:
    """Numeric arrays met by the JSON encoder: kept as buffers, written as {"o": offset, "n": length}."""

    def __init__(self) -> None:
        self.buffers: list[memoryview] = []
        self.size = 0

    def default(self, value: Any) -> Any:
        if not isinstance(value, np.ndarray):
            raise TypeError(f"cannot serialize {type(value).__name__}")
        buffer = memoryview(np.ascontiguousarray(value)).cast("B")
        reference = {"o": self.size, "n": int(value.size)}
        self.buffers.append(buffer)
        self.size += buffer.nbytes + _padding(buffer.nbytes)
        return reference


class Serialized:
    """An encoded PvObject: a header and the array buffers that follow it (not yet joined)."""

    def __init__(self, type_id: str, header: bytes, arrays: _Arrays) -> None:
        self.type_id = type_id
        self.header = header
        self.buffers = arrays.buffers
        self.size = len(header) + arrays.size  # bytes in all, padding included

    def parts(self) -> Iterable[bytes | memoryview]:
        """The byte pieces in order, padding included."""
        yield self.header
        for buffer in self.buffers:
            yield buffer
            if pad := _padding(buffer.nbytes):
                yield bytes(pad)

    def to_bytes(self) -> bytes:
        return b"".join(self.parts())


class _Description:
    def __init__(self, pv: pva.PvObject) -> None:
        self.kind = describe(pv)
        self.text = json.dumps(self.kind, separators=(",", ":")).encode()
        self.variants = _variant_paths(self.kind)


class Serializer:
    """Encodes PvObjects; keeps the description of each structure it has seen."""

    def __init__(self) -> None:
        self._descriptions: dict[str, _Description] = {}
        self._last: tuple[dict[str, Any], _Description] | None = None

    def description(self, pv: pva.PvObject) -> _Description:
        types = pv.getStructureDict()
        if self._last is not None and self._last[0] == types:  # a stream keeps its structure: no repr needed
            return self._last[1]
        key = repr(types)
        if key not in self._descriptions:
            self._descriptions[key] = _Description(pv)
        self._last = (types, self._descriptions[key])
        return self._last[1]

    def serialize(self, pv: pva.PvObject) -> Serialized:
        description = self.description(pv)
        values = pv.toDict()
        for path, is_array in description.variants:
            _rewrite_variants(values, path, is_array)
        arrays = _Arrays()
        text = json.dumps(values, default=arrays.default, separators=(",", ":")).encode()
        header = _PREFIX.pack(MAGIC, len(description.text), len(text)) + description.text + text
        return Serialized(description.kind["id"], header + bytes(_padding(len(header))), arrays)


# --- decoding -------------------------------------------------------------------
def _bad(message: str) -> SerializationError:
    return SerializationError(f"not a valid {FORMAT_NAME} object: {message}")


def _types(kind: Any) -> Any:
    """The pvaccess structure-dict entry for a JSON type (structures with ids become templates)."""
    if isinstance(kind, str):
        if kind not in SCALAR_TYPES:
            raise _bad(f"unknown scalar type {kind!r}")
        return SCALAR_TYPES[kind]
    if isinstance(kind, list) and len(kind) == 1:
        return [_types(kind[0])]
    if isinstance(kind, dict) and isinstance(kind.get("fields"), list):
        fields = {_name(field): _types(field[1]) for field in kind["fields"]}
        type_id = kind.get("id") or ""
        if not isinstance(type_id, str):
            raise _bad("a type id is not a string")
        return pva.PvObject(fields, {}, type_id) if type_id else fields
    if isinstance(kind, dict) and "union" in kind:
        if kind["union"] is None:
            return ()
        if not isinstance(kind["union"], list):
            raise _bad("union fields are not a list")
        return ({_name(field): _types(field[1]) for field in kind["union"]},)
    raise _bad(f"unknown type {kind!r:.60}")


def _name(field: Any) -> str:
    if not (isinstance(field, list) and len(field) == 2 and isinstance(field[0], str)):
        raise _bad("a field is not a [name, type] pair")
    return field[0]


def _plain_structures(kind: Any, found: set[int]) -> bool:
    """Whether ``kind`` holds only scalars and string arrays; the ids of such structures go into ``found``."""
    if isinstance(kind, str):
        return True
    if isinstance(kind, list):
        element = kind[0]
        plain_element = _plain_structures(element, found)
        return isinstance(element, str) and element == "string" and plain_element
    if "union" in kind:
        for _, field in kind["union"] or []:
            _plain_structures(field, found)
        return False
    plain = all([_plain_structures(field, found) for _, field in kind["fields"]])
    if plain:
        found.add(id(kind))
    return plain


class _Decoder:
    """Turns decoded JSON values into what pvaccess's ``set()`` takes; pvaccess checks the scalars."""

    def __init__(self, arrays: memoryview, plain: set[int]) -> None:
        self.arrays = arrays
        self.plain = plain  # ids of structures with nothing to convert
        self.n_bytes = 0  # referenced, padding included: must cover the array area exactly

    def array(self, reference: Any, element: str) -> np.ndarray:
        if not (isinstance(reference, dict) and isinstance(reference.get("o"), int)
                and isinstance(reference.get("n"), int) and reference["n"] >= 0 and reference["o"] >= 0):
            raise _bad("malformed array reference")
        dtype = ARRAY_DTYPES[element]
        size = reference["n"] * dtype.itemsize
        if reference["o"] + size > self.arrays.nbytes:
            raise _bad("array data is truncated")
        self.n_bytes += size + _padding(size)
        return np.frombuffer(self.arrays, dtype=dtype, count=reference["n"], offset=reference["o"])

    def value(self, value: Any, kind: Any) -> Any:
        if isinstance(kind, str):
            return value
        if isinstance(kind, list):
            element = kind[0]
            if isinstance(element, str):
                if element == "string":
                    if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
                        raise _bad("a string array holds something else")
                    return value
                return self.array(value, element)
            if not isinstance(value, list):
                raise _bad("a structure or union array is not a list")
            return [self.value(item, element) for item in value]
        if "fields" in kind:
            if not (isinstance(value, dict) and len(value) == len(kind["fields"])):
                raise _bad("structure values do not match its fields")
            if id(kind) in self.plain:
                return value
            try:
                return {name: self.value(value[name], field) for name, field in kind["fields"]}
            except KeyError as ex:
                raise _bad(f"structure values lack field {ex.args[0]!r:.40}") from None
        return self._union(value, kind)

    def _union(self, value: Any, kind: dict[str, Any]) -> Any:
        if kind["union"] is None:  # variant: null or [content type, content values]
            if value is None:
                return ({}, {})
            if not (isinstance(value, list) and len(value) == 2):
                raise _bad("a variant union value is not a [type, value] pair")
            content, item = value
            if not (isinstance(content, dict) and isinstance(content.get("fields"), list)):
                raise _bad("variant union content is not a structure")
            return (self.value(item, content), _types(content))
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], dict) and len(value[0]) <= 1):
            raise _bad("a union value is not a pair")
        if not value[0]:
            return ({}, {})
        name, item = next(iter(value[0].items()))
        fields = dict(kind["union"])
        if name not in fields:
            raise _bad(f"union has no field {name!r:.40}")
        return ({name: self.value(item, fields[name])}, {name: _types(fields[name])})


class Deserializer:
    """Decodes bytes into PvObjects; keeps the pvaccess structure of each description it has seen."""

    def __init__(self) -> None:
        self._structures: dict[bytes, tuple[dict[str, Any], pva.PvObject]] = {}
        self._plain: dict[bytes, set[int]] = {}

    def structure(self, text: bytes) -> tuple[dict[str, Any], pva.PvObject]:
        """The description and an empty object of the structure ``text`` describes (built once)."""
        if text not in self._structures:
            try:
                kind = json.loads(text)
            except (ValueError, UnicodeDecodeError) as ex:
                raise _bad(f"structure is not JSON ({ex})") from None
            if not (isinstance(kind, dict) and isinstance(kind.get("fields"), list)):
                raise _bad("the top level is not a structure")
            types = {_name(field): _types(field[1]) for field in kind["fields"]}
            try:
                template = pva.PvObject(types, {}, str(kind.get("id") or ""))
            except Exception as ex:  # noqa: BLE001 (pvaccess refuses, e.g., an empty structure)
                raise _bad(f"pvaccess cannot build the structure ({ex})") from None
            if len(self._structures) >= MAX_STRUCTURES:
                oldest = next(iter(self._structures))
                del self._structures[oldest], self._plain[oldest]
            self._plain[text] = set()
            _plain_structures(kind, self._plain[text])
            self._structures[text] = (kind, template)
        return self._structures[text]

    def _header(self, data: bytes | memoryview | np.ndarray) -> tuple[memoryview, bytes, int]:
        """The bytes as a view, the structure text and where the values start."""
        view = memoryview(data).cast("B")
        if view.nbytes < _PREFIX.size:
            raise _bad("shorter than its header")
        magic, structure_length, values_length = _PREFIX.unpack_from(view)
        if magic != MAGIC:
            raise _bad("unknown format marker")
        structure_end = _PREFIX.size + structure_length
        if structure_end + values_length > view.nbytes:
            raise _bad("header is truncated")
        return view, bytes(view[_PREFIX.size:structure_end]), structure_end

    def type_id(self, data: bytes | memoryview | np.ndarray) -> str:
        """The top-level type id of an encoded object (its values are not read)."""
        kind, _ = self.structure(self._header(data)[1])
        return str(kind.get("id") or "")

    def deserialize(self, data: bytes | memoryview | np.ndarray) -> pva.PvObject:
        view, text, values_start = self._header(data)
        kind, template = self.structure(text)
        values_end = values_start + _PREFIX.unpack_from(view)[2]
        try:
            values = json.loads(bytes(view[values_start:values_end]))
        except (ValueError, UnicodeDecodeError) as ex:
            raise _bad(f"values are not JSON ({ex})") from None
        decoder = _Decoder(view[values_end + _padding(values_end):], self._plain[text])
        decoded = decoder.value(values, kind)
        if decoder.n_bytes != decoder.arrays.nbytes:
            raise _bad("array data does not match the arrays referenced (trailing or missing bytes)")
        decoded_object = template.copy()  # the structure is built once; copying it is cheap
        try:
            decoded_object.set(decoded)
        except Exception as ex:  # pvaccess rejects a value that does not fit its field
            raise _bad(f"values do not fit the structure ({ex})") from None
        return decoded_object
