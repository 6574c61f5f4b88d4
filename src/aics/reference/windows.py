"""Window arithmetic shared by the float and integer paths: im2col convolution, transposed
convolution, pooling windows and their divisors, adaptive pooling bins, resize sampling.

Everything here works on any real dtype, so one implementation serves float32 tensors and the
integer path, which calls it with exact integers held in float64 (every product and partial sum of
8/16-bit codes stays below 2**53, so BLAS in float64 is exact; ``exact_int`` checks the bound).
Layouts are PyTorch's: NCHW activations, OIHW conv weights, IOHW transposed-conv weights.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from aics.errors import QuantizationError
from aics.ir import attrs as A

_EXACT_F64 = 2**53


def _windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
             dilation: tuple[int, int]) -> np.ndarray:
    """Views (N, C, Ho, Wo, kh, kw) of a padded (N, C, H, W) tensor; no copy."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    return sliding_window_view(xp, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]


def exact_int(bound: float) -> None:
    """Raise if integer products summed in float64 could lose exactness (bound = max |partial sum|)."""
    if bound >= _EXACT_F64:
        raise QuantizationError(f"integer accumulation bound {bound:.3g} exceeds 2**53: codes too wide")


def conv2d(x: np.ndarray, w: np.ndarray, a: A.Conv2dAttrs) -> np.ndarray:
    """Cross-correlation of x (N, C, H, W) with w (O, C/g, kh, kw): im2col then one batched matmul
    over the groups. Padding adds zeros (the integer path passes x - zero_point)."""
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    g = a.groups
    top, bottom, left, right = a.padding
    wg = np.ascontiguousarray(w.reshape(g, o // g, cg * kh * kw))
    if (kh, kw, *a.stride, *a.padding) == (1, 1, 1, 1, 0, 0, 0, 0):  # pointwise: no im2col needed
        cols = x.reshape(n, g, cg, -1)
        ho, wo = x.shape[2:]
    else:
        xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        win = _windows(xp, (kh, kw), a.stride, a.dilation)  # (N, C, Ho, Wo, kh, kw)
        ho, wo = win.shape[2:4]
        # (N, G, Cg*kh*kw, Ho*Wo): the copy reads along Wo, the output comes out in NCHW order
        cols = win.reshape(n, g, cg, ho, wo, kh, kw).transpose(0, 1, 2, 5, 6, 3, 4).reshape(n, g, cg * kh * kw, ho * wo)
    return np.matmul(wg, cols).reshape(n, o, ho, wo)


def conv_transpose2d(x: np.ndarray, w: np.ndarray, a: A.ConvTranspose2dAttrs) -> np.ndarray:
    """Transposed convolution: every input pixel scatters x . w over a (kh, kw) patch.

    One matmul gives all contributions (N, G, H, W, O/g, kh, kw); a loop over the kh*kw taps adds
    them into the strided output positions; the padding is then cropped (PyTorch's definition).
    """
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    g = a.groups
    (sh, sw), (dh, dw), (ph, pw), (oph, opw) = a.stride, a.dilation, a.padding, a.output_padding
    xg = x.reshape(n, g, c // g, h * wd).transpose(0, 1, 3, 2)  # (N, G, HW, C/g)
    wg = w.reshape(g, c // g, og * kh * kw)
    contrib = np.matmul(xg, wg).reshape(n, g, h, wd, og, kh, kw)
    full_h = (h - 1) * sh + dh * (kh - 1) + 1
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1
    out_h = full_h - 2 * ph + oph
    out_w = full_w - 2 * pw + opw
    buf = np.zeros((n, g, og, max(full_h, ph + out_h), max(full_w, pw + out_w)), dtype=contrib.dtype)
    moved = contrib.transpose(0, 1, 4, 2, 3, 5, 6)  # (N, G, O/g, H, W, kh, kw)
    for i in range(kh):
        for j in range(kw):
            buf[:, :, :, i * dh:i * dh + (h - 1) * sh + 1:sh, j * dw:j * dw + (wd - 1) * sw + 1:sw] += moved[..., i, j]
    return buf[:, :, :, ph:ph + out_h, pw:pw + out_w].reshape(n, g * og, out_h, out_w)


def pool_extra(size: int, lo: int, hi: int, k: int, s: int, d: int, ceil_mode: bool) -> tuple[int, int]:
    """(output size, extra padding after ``hi``) of one pooled axis, PyTorch's ceil_mode rule."""
    span = d * (k - 1) + 1
    num = size + lo + hi - span
    out = (math.ceil(num / s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + lo:
        out -= 1
    return out, max(0, (out - 1) * s + span - (size + lo + hi))


def _extra(size: int, lo: int, hi: int, a: A.Pool2dAttrs, axis: int) -> int:
    return pool_extra(size, lo, hi, a.kernel[axis], a.stride[axis], a.dilation[axis], a.ceil_mode)[1]


def pool_windows(x: np.ndarray, a: A.Pool2dAttrs, fill: float) -> np.ndarray:
    """Windows (N, C, Ho, Wo, kh, kw) of x padded with ``fill`` (ceil_mode overflow included)."""
    top, bottom, left, right = a.padding
    eh, ew = _extra(x.shape[2], top, bottom, a, 0), _extra(x.shape[3], left, right, a, 1)
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom + eh), (left, right + ew)), constant_values=fill)
    return _windows(xp, a.kernel, a.stride, a.dilation)


def pool_divisors(h: int, w: int, a: A.Pool2dAttrs) -> np.ndarray:
    """Average-pool divisors (Ho, Wo), PyTorch's rule: the window clipped to the padded input
    (count_include_pad) or to the input itself; the ceil_mode overflow is never counted."""
    top, bottom, left, right = a.padding
    eh, ew = _extra(h, top, bottom, a, 0), _extra(w, left, right, a, 1)
    counted = np.zeros((1, 1, h + top + bottom + eh, w + left + right + ew), dtype=np.int64)
    if a.count_include_pad:
        counted[..., :h + top + bottom, :w + left + right] = 1
    else:
        counted[..., top:top + h, left:left + w] = 1
    return _windows(counted, a.kernel, a.stride, a.dilation).sum(axis=(-2, -1))[0, 0]


def adaptive_bins(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive pooling bins: start = floor(i*size/out), end = ceil((i+1)*size/out)."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def adaptive_sums(x: np.ndarray, out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Bin sums (N, C, Ho, Wo) through an integral image, and the bin sizes (Ho, Wo).

    ``x`` is float64 or int64; the integral image keeps its dtype (exact for int64)."""
    n, c, h, w = x.shape
    sh, eh = adaptive_bins(h, out_hw[0])
    sw, ew = adaptive_bins(w, out_hw[1])
    integral = np.zeros((n, c, h + 1, w + 1), dtype=x.dtype)
    integral[:, :, 1:, 1:] = x.cumsum(axis=2).cumsum(axis=3)
    sums = (integral[:, :, eh[:, None], ew[None, :]] - integral[:, :, sh[:, None], ew[None, :]]
            - integral[:, :, eh[:, None], sw[None, :]] + integral[:, :, sh[:, None], sw[None, :]])
    return sums, (eh - sh)[:, None] * (ew - sw)[None, :]


def nearest_index(size: int, out: int) -> np.ndarray:
    """PyTorch 'nearest': src = min(floor(dst * size / out), size - 1), scale in float32."""
    scale = np.float32(size) / np.float32(out)
    return np.minimum(np.floor(np.arange(out, dtype=np.float32) * scale).astype(np.int64), size - 1)


def linear_taps(size: int, out: int, align_corners: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear sampling along one axis: (i0, i1, lambda) with PyTorch's source-index formula."""
    dst = np.arange(out, dtype=np.float32)
    if align_corners:
        scale = np.float32((size - 1) / (out - 1)) if out > 1 else np.float32(0)
        src = dst * scale
    else:
        src = np.maximum((dst + np.float32(0.5)) * np.float32(size / out) - np.float32(0.5), np.float32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    return i0, i1, (src - i0).astype(np.float32)
