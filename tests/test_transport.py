"""Arrays cross to the browser as binary buffers: encoding, decoding, quantization."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets

from circuitwidgets.widgets._transport import (
    SUPPORTED_DTYPES,
    UNIT_MAX_ERROR,
    UNIT_STEP,
    BinaryArray,
    from_wire,
    quantize_unit,
    to_wire,
)


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES)
def test_round_trip_every_dtype(dtype):
    values = np.arange(24).reshape(2, 3, 4) % 7
    arr = values.astype(dtype)
    wire = to_wire(arr)
    assert wire["dtype"] == dtype and wire["shape"] == [2, 3, 4]
    assert isinstance(wire["buffer"], memoryview)
    assert wire["buffer"].nbytes == arr.nbytes
    out = from_wire(wire)
    assert out.dtype == np.dtype(dtype) and np.array_equal(out, arr)


def test_bytes_are_little_endian_and_c_ordered():
    big_endian_transposed = np.arange(6, dtype=">f4").reshape(2, 3).T  # not contiguous, not '<'
    wire = to_wire(big_endian_transposed)
    assert bytes(wire["buffer"]) == np.ascontiguousarray(big_endian_transposed, dtype="<f4").tobytes()
    assert bytes(wire["buffer"])[:8] == np.array([0.0, 3.0], dtype="<f4").tobytes()


def test_torch_tensors_and_narrowing():
    t = torch.tensor([[1.5, -2.0]], dtype=torch.bfloat16, requires_grad=True)
    assert to_wire(t)["dtype"] == "float32"
    assert from_wire(to_wire(t)).tolist() == [[1.5, -2.0]]
    ids = torch.tensor([0, 50256, 2**31 - 1])
    assert to_wire(ids)["dtype"] == "int32" and from_wire(to_wire(ids)).tolist() == ids.tolist()
    assert to_wire(torch.tensor([True, False]))["dtype"] == "uint8"
    assert to_wire([1.0, 2.0], dtype="float16")["buffer"].nbytes == 4


def test_buffer_is_a_private_copy():
    arr = np.zeros(3, dtype=np.float32)
    wire = to_wire(arr)
    arr[:] = 7
    assert from_wire(wire).tolist() == [0.0, 0.0, 0.0]


def test_bad_arrays_are_refused_with_the_reason():
    with pytest.raises(TypeError, match=r"dtype 'complex128'.*supported dtypes are uint8"):
        to_wire(np.zeros(2, dtype=complex))
    with pytest.raises(TypeError, match="refusing to cast float32 values to int32"):
        to_wire(np.zeros(2, dtype=np.float32), dtype="int32")
    with pytest.raises(ValueError, match=r"values from 0 to 4294967296 do not fit int32"):
        to_wire(np.array([0, 2**32]))
    with pytest.raises(ValueError, match="scale must be a positive finite number"):
        to_wire([1], scale=0)
    with pytest.raises(TypeError, match="keys 'dtype', 'shape' and 'buffer'"):
        from_wire({"dtype": "uint8"})
    with pytest.raises(ValueError, match=r"needs 12 bytes, but the buffer holds 8"):
        from_wire({"dtype": "float32", "shape": [3], "buffer": b"\0" * 8})
    with pytest.raises(TypeError, match="bytes or a memoryview"):
        from_wire({"dtype": "uint8", "shape": [1], "buffer": [1]})


def test_quantize_unit_error_is_at_most_half_a_step():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.random(10_000), np.linspace(0, 1, 2041), [0.0, 1.0, 0.5 / 255, 1.5 / 255]])
    wire = quantize_unit(torch.tensor(x, dtype=torch.float32))
    assert wire["dtype"] == "uint8" and wire["scale"] == pytest.approx(UNIT_STEP)
    err = np.abs(from_wire(wire).astype(np.float64) - x.astype(np.float32))
    assert err.max() <= UNIT_MAX_ERROR + 1e-7
    assert err.max() > 0.9 * UNIT_MAX_ERROR  # the bound is tight, not loose
    assert from_wire(wire)[-4] == 0.0 and from_wire(wire)[-3] == 1.0


def test_quantize_unit_refuses_values_outside_the_unit_interval():
    assert from_wire(quantize_unit([1 + 1e-7, -1e-7])).tolist() == [1.0, 0.0]  # float rounding
    with pytest.raises(ValueError, match=r"\[0, 1\] to quantize, got a range of \[-0.5, 1.0\]"):
        quantize_unit([-0.5, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        quantize_unit([float("nan")])


def test_binary_array_trait_converts_and_checks():
    class Holder(traitlets.HasTraits):
        probs = BinaryArray("float32")
        anything = BinaryArray()

    h = Holder()
    assert h.probs is None
    h.probs = torch.tensor([0.25, 0.5], dtype=torch.float64)
    assert h.probs.tolist() == [0.25, 0.5]  # the values, as given
    wire = Holder.probs.metadata["to_json"](h.probs, h)  # ... sent as float32
    assert wire["dtype"] == "float32" and from_wire(wire).tolist() == [0.25, 0.5]
    h.anything = np.arange(3, dtype=np.uint16)
    assert h.anything.dtype == np.uint16 and Holder.anything.metadata["to_json"](h.anything, h)["dtype"] == "uint16"
    with pytest.raises(traitlets.TraitError, match="holds float32 arrays, got uint8"):
        h.probs = to_wire(np.zeros(2, dtype=np.uint8))
    with pytest.raises(ValueError, match="dtype must be one of"):
        BinaryArray("int64")


def test_docstring_examples_run():
    import doctest

    from circuitwidgets.widgets import _transport

    result = doctest.testmod(_transport)
    assert result.attempted >= 3 and result.failed == 0
