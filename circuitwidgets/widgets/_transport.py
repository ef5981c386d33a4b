"""Arrays from Python to the browser as binary buffers, never as JSON lists of numbers.

This module is the boundary: a view's traits hold *values* (torch tensors, NumPy arrays, small
dataclasses of them), and only here do they become the wire form. Each trait type below tags
itself with its encoder (ipywidgets' ``to_json`` metadata, as lonboard's traits do), so a
Python user reading ``w.probs`` gets numbers, and the browser gets the same bytes as ever:

* :class:`BinaryArray` holds one array; it crosses as one wire dict (below), quantized to a
  byte per value for ``BinaryArray(quantized=True)`` (:func:`quantize_unit`).
* :class:`Encoded` holds a payload object (a dataclass of tensors, a dict of arrays, a list of
  either) and its one encoder, which builds the JSON the view's TypeScript state type names.

An array crosses to JavaScript as a small dict whose ``buffer`` is a ``memoryview``::

    {"dtype": "float32", "shape": [4, 16], "buffer": <memoryview of 256 bytes>}

ipywidgets lifts every ``bytes``/``memoryview`` out of a widget's state and sends it as a
binary frame of the comm message (and base64 in a static HTML export), so the numbers never
become JSON text. The bytes are little-endian and C-ordered (last axis fastest);
``js/src/kit/decode.ts`` reads them back, zero-copy where it can.

Quantized arrays carry a ``scale``: element ``i`` means ``stored[i] * scale``. Values in
[0, 1] (attention weights, probabilities) fit a byte with a worst-case error of half a step,
1/510 ≈ 0.002; see :func:`quantize_unit`.

>>> import numpy as np
>>> wire = to_wire(np.arange(6, dtype=np.float32).reshape(2, 3))
>>> wire["dtype"], wire["shape"], wire["buffer"].nbytes
('float32', [2, 3], 24)
>>> from_wire(wire).tolist()
[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import traitlets

__all__ = [
    "SUPPORTED_DTYPES",
    "UNIT_STEP",
    "UNIT_MAX_ERROR",
    "BinaryArray",
    "Encoded",
    "to_wire",
    "from_wire",
    "quantize_unit",
    "split_buffers",
    "encode_trait",
]

#: The dtypes the browser decodes (``js/src/kit/decode.ts``).
SUPPORTED_DTYPES = (
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float16", "float32", "float64",
)

#: Values in [0, 1] are stored as ``round(x / UNIT_STEP)`` in a byte ...
UNIT_STEP = 1.0 / 255.0
#: ... so the largest error is half a step.
UNIT_MAX_ERROR = UNIT_STEP / 2

# What 64-bit and boolean inputs become when no dtype is asked for (the browser has no
# 64-bit integers worth decoding; token ids and counts fit 32 bits).
_NARROWED = {"int64": "int32", "uint64": "uint32", "bool": "uint8"}


def _as_numpy(array: Any) -> np.ndarray:
    """A NumPy view of a torch tensor (detached, on the CPU) or anything ``np.asarray`` takes."""
    if isinstance(array, torch.Tensor):
        t = array.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.to(torch.float32)
        return t.numpy()
    return np.asarray(array)


def to_wire(array: Any, *, dtype: str | None = None, scale: float | None = None) -> dict[str, Any]:
    """``array`` (torch tensor, NumPy array, nested lists) as a wire dict for a widget trait.

    Parameters
    ----------
    array:
        The values. torch tensors are detached and moved to the CPU; bfloat16 becomes float32.
    dtype:
        The dtype to send, one of :data:`SUPPORTED_DTYPES`. By default the array's own dtype,
        with int64 → int32, uint64 → uint32 and bool → uint8 (checked to fit).
    scale:
        For quantized data: the value each stored unit stands for (see :func:`quantize_unit`).

    Returns
    -------
    ``{"dtype": str, "shape": list[int], "buffer": memoryview}`` (plus ``"scale"`` if given).
    The buffer holds a private copy, so later changes to ``array`` do not leak into the widget.
    """
    arr = _as_numpy(array)
    target = _check_cast(arr, dtype)
    if scale is not None and not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    data = np.ascontiguousarray(arr, dtype=np.dtype(target).newbyteorder("<"))
    wire: dict[str, Any] = {
        "dtype": target,
        "shape": [int(n) for n in data.shape],
        "buffer": memoryview(data.tobytes()),
    }
    if scale is not None:
        wire["scale"] = float(scale)
    return wire


def _check_cast(arr: np.ndarray, dtype: str | None) -> str:
    """The wire dtype ``arr`` is sent as (``dtype``, or its own narrowed), checked: a
    supported dtype, and for integers, values that fit it."""
    source = arr.dtype.name
    target = dtype if dtype is not None else _NARROWED.get(source, source)
    if target not in SUPPORTED_DTYPES:
        raise TypeError(
            f"cannot send an array of dtype {source!r} as {target!r} to the browser; "
            f"supported dtypes are {', '.join(SUPPORTED_DTYPES)}"
        )
    if np.dtype(target).kind in "iu" and arr.size:
        if arr.dtype.kind not in "iub":
            raise TypeError(f"refusing to cast {source} values to {target}; round or quantize them first")
        info = np.iinfo(target)
        lo, hi = arr.min(), arr.max()
        if lo < info.min or hi > info.max:
            raise ValueError(
                f"values from {lo} to {hi} do not fit {target} (range {info.min}..{info.max})"
            )
    return target


def from_wire(wire: dict[str, Any]) -> np.ndarray:
    """The values a wire dict stands for (the inverse of :func:`to_wire`).

    Quantized arrays (with a ``scale``) come back as float32 ``stored * scale``; others in
    their own dtype. Accepts the buffer as ``bytes``, ``bytearray`` or ``memoryview``.
    """
    _check_wire(wire)
    dtype = np.dtype(wire["dtype"]).newbyteorder("<")
    values = np.frombuffer(wire["buffer"], dtype=dtype).reshape(wire["shape"])
    values = values.astype(dtype.newbyteorder("="))
    if wire.get("scale") is not None:
        return (values.astype(np.float32) * np.float32(wire["scale"])).astype(np.float32)
    return values


def _check_wire(wire: Any) -> None:
    if not isinstance(wire, dict) or not {"dtype", "shape", "buffer"} <= wire.keys():
        raise TypeError(
            "a binary array must be a dict with keys 'dtype', 'shape' and 'buffer' "
            f"(see circuitwidgets.widgets._transport.to_wire), got {type(wire).__name__}"
        )
    if wire["dtype"] not in SUPPORTED_DTYPES:
        raise TypeError(f"unsupported dtype {wire['dtype']!r}; expected one of {SUPPORTED_DTYPES}")
    if not isinstance(wire["buffer"], (bytes, bytearray, memoryview)):
        raise TypeError(
            f"the buffer must be bytes or a memoryview (sent as a binary frame), "
            f"got {type(wire['buffer']).__name__}"
        )
    count = int(np.prod(wire["shape"], dtype=np.int64))
    nbytes = memoryview(wire["buffer"]).nbytes
    if nbytes != count * np.dtype(wire["dtype"]).itemsize:
        raise ValueError(
            f"a {wire['dtype']} array of shape {list(wire['shape'])} needs "
            f"{count * np.dtype(wire['dtype']).itemsize} bytes, but the buffer holds {nbytes}"
        )


def quantize_unit(values: Any) -> dict[str, Any]:
    """Values in [0, 1] as a uint8 wire array: ``stored = round(x * 255)``, ``scale = 1/255``.

    The decoded value ``stored * scale`` differs from ``x`` by at most :data:`UNIT_MAX_ERROR`
    (half a step, 1/510 ≈ 0.00196), a quarter of the size of float32's; attention patterns
    and probabilities are drawn as colours, where 256 levels are more than the eye
    resolves. Values a little outside [0, 1] from float rounding (within 1e-6) are clipped;
    anything else (or NaN) raises ``ValueError``.

    >>> import numpy as np
    >>> q = quantize_unit(np.array([0.0, 0.5, 1.0]))
    >>> q["dtype"], bytes(q["buffer"]), round(q["scale"] * 255, 12)
    ('uint8', b'\\x00\\x80\\xff', 1.0)
    """
    arr = _check_unit(_as_numpy(values).astype(np.float64, copy=False))
    stored = np.rint(np.clip(arr, 0.0, 1.0) / UNIT_STEP).astype(np.uint8)
    return to_wire(stored, scale=UNIT_STEP)


def _check_unit(arr: np.ndarray) -> np.ndarray:
    """``arr`` if its values lie in [0, 1] (within 1e-6 of float rounding), else ``ValueError``."""
    if arr.size:
        if np.isnan(arr).any():
            raise ValueError("cannot quantize NaN; values must lie in [0, 1]")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(f"values must lie in [0, 1] to quantize, got a range of [{lo}, {hi}]")
    return arr


def encode(value: Any) -> Any:
    """``value`` in its wire form: a payload object (anything with an ``encode()`` method, the
    dataclasses of :mod:`._payloads`) becomes what that method returns; lists and dicts are
    walked; the rest is returned as it is."""
    if hasattr(value, "encode") and not isinstance(value, (str, bytes)):
        return encode(value.encode())
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


_CURRENT = object()


def encode_trait(widget: Any, name: str, value: Any = _CURRENT) -> Any:
    """The wire form of ``widget``'s trait ``name`` -- its current value, or ``value`` -- as
    the browser gets it: through the trait's own encoder (``to_json``), the one the widget
    uses to sync it.

    >>> class W(traitlets.HasTraits):
    ...     probs = BinaryArray("float32")
    >>> w = W(probs=torch.tensor([0.5]))
    >>> type(w.probs).__name__, sorted(encode_trait(w, "probs"))
    ('Tensor', ['buffer', 'dtype', 'shape'])
    """
    current = getattr(widget, name) if value is _CURRENT else value
    plain = getattr(widget, "_trait_to_json", lambda v, _w: v)  # ipywidgets' default for a widget
    return widget.trait_metadata(name, "to_json", plain)(current, widget)


def split_buffers(payload: Any) -> tuple[Any, list[memoryview]]:
    """A payload holding wire arrays, made ready for a custom message (``widget.send``).

    Payload objects in it are encoded first (:func:`encode`). Returns ``(message, buffers)``:
    a copy of the encoded payload in which every wire dict's
    ``buffer`` is replaced by ``"buffer_index": i``, its position in ``buffers`` (which travel
    as binary frames). ``attachBuffers`` in ``js/src/kit/decode.ts`` puts them back.

    >>> message, buffers = split_buffers({"a": to_wire(np.zeros(2, np.float32)), "n": 1})
    >>> message["a"]["buffer_index"], len(buffers), buffers[0].nbytes
    (0, 1, 8)
    """
    buffers: list[memoryview] = []

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if isinstance(value.get("buffer"), (bytes, bytearray, memoryview)):
                _check_wire(value)
                out = {k: v for k, v in value.items() if k != "buffer"}
                out["buffer_index"] = len(buffers)
                buffers.append(memoryview(value["buffer"]))
                return out
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        return value

    return walk(encode(payload)), buffers


class BinaryArray(traitlets.TraitType):
    """A trait holding an array, sent to the browser as a wire dict (see the module docstring).

    It holds what it is given -- a torch tensor (detached, on the CPU) or a NumPy array (from
    anything ``np.asarray`` takes; a wire dict is decoded) -- so ``w.probs`` reads as numbers.
    On assignment it checks that the values can be sent as ``dtype`` (``None``: the array's
    own, narrowed as :func:`to_wire` does); ``quantized=True`` sends values in [0, 1] as
    bytes (:func:`quantize_unit`) and checks that range. ``None`` is allowed (nothing yet).

    >>> class W(traitlets.HasTraits):
    ...     probs = BinaryArray("float32")
    >>> w = W(); w.probs = [0.25, 0.5]
    >>> w.probs.tolist()                                   # numbers, not a wire dict
    [0.25, 0.5]
    >>> wire = W.probs.metadata["to_json"](w.probs, w)     # what the browser gets
    >>> wire["dtype"], from_wire(wire).tolist()
    ('float32', [0.25, 0.5])
    """

    info_text = "an array (torch tensor, NumPy array or wire dict)"

    def __init__(self, dtype: str | None = None, *, quantized: bool = False, **kwargs: Any):
        if dtype is not None and dtype not in SUPPORTED_DTYPES:
            raise ValueError(f"dtype must be one of {SUPPORTED_DTYPES}, got {dtype!r}")
        if quantized and dtype is not None:
            raise ValueError("a quantized array is sent as uint8 with a scale; give no dtype")
        self.dtype = dtype
        self.quantized = quantized
        kwargs.setdefault("allow_none", True)
        super().__init__(default_value=None, **kwargs)
        self.metadata["to_json"] = self._to_json
        self.metadata["from_json"] = self._from_json

    def validate(self, obj: Any, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dict):
            _check_wire(value)
            if self.dtype is not None and value["dtype"] != self.dtype:
                raise traitlets.TraitError(
                    f"the {self.name!r} trait holds {self.dtype} arrays, got {value['dtype']}"
                )
            value = from_wire(value)
        elif isinstance(value, torch.Tensor):
            value = value.detach().cpu()
        elif not isinstance(value, np.ndarray):
            value = np.asarray(value)
        try:
            values = _as_numpy(value)
            if self.quantized:
                _check_unit(values.astype(np.float64, copy=False))
            else:
                _check_cast(values, self.dtype)
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(f"the {self.name!r} trait cannot hold this array: {exc}") from None
        return value

    def _to_json(self, value: Any, _widget: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        return quantize_unit(value) if self.quantized else to_wire(value, dtype=self.dtype)

    @staticmethod
    def _from_json(value: Any, _widget: Any) -> np.ndarray | None:
        return None if value is None else from_wire(value)


class Encoded(traitlets.TraitType):
    """A trait holding a payload object that the browser gets as ``encode(value)``.

    ``klass`` is what it holds (a dataclass of :mod:`._payloads`, or another value class);
    ``encode`` its one encoder (default: the object's own ``encode()`` method). ``many=True``
    holds a list of them (default ``[]``), each encoded alike; otherwise ``None`` is allowed.
    ``mirror`` names the TypeScript interface that reads what ``encode`` sends (default: the
    class's ``TS_TYPE``; ``tests/test_ts_state.py`` compares the two).

    >>> class W(traitlets.HasTraits):
    ...     scores = Encoded(dict, encode=lambda d: {k: to_wire(v, dtype="float32") for k, v in d.items()})
    >>> w = W(); w.scores = {"induction": np.ones((2, 4))}
    >>> w.scores["induction"].shape, W.scores.metadata["to_json"](w.scores, w)["induction"]["dtype"]
    ((2, 4), 'float32')
    """

    def __init__(self, klass: type, *, encode: Any = None, many: bool = False, mirror: str | None = None, **kwargs: Any):
        self.klass = klass
        self.many = many
        self.mirror = mirror if mirror is not None else getattr(klass, "TS_TYPE", None)
        self.encoder = encode if encode is not None else (lambda value: value.encode())
        kwargs.setdefault("allow_none", not many)
        super().__init__(default_value=traitlets.Undefined if many else None, **kwargs)
        self.metadata["to_json"] = self._to_json

    def make_dynamic_default(self) -> Any:
        return [] if self.many else None

    @property
    def info_text(self) -> str:  # type: ignore[override]
        name = self.klass.__name__
        return f"a list of {name}" if self.many else f"a {name}"

    def validate(self, obj: Any, value: Any) -> Any:
        if value is None and not self.many:
            return None
        items = value if self.many and isinstance(value, (list, tuple)) else [value]
        if (self.many and not isinstance(value, (list, tuple))) or not all(isinstance(v, self.klass) for v in items):
            self.error(obj, value)
        return list(value) if self.many else value

    def _to_json(self, value: Any, _widget: Any) -> Any:
        if value is None:
            return None
        return [self.encoder(v) for v in value] if self.many else self.encoder(value)
