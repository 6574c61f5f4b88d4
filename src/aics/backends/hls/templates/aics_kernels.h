/* aics HLS kernel helpers: the integer arithmetic of the aics integer reference, in C99.
 *
 * Hand-written, copied verbatim into every generated project. Each helper mirrors one numpy
 * definition of aics.numerics (named below), so the C simulation is bit-identical to the
 * reference executor. Arithmetic is in int64_t; left shifts are written as multiplications (a
 * negative value shifted left is undefined in C); right shifts of negative values are
 * arithmetic, as in gcc, clang and every HLS compiler.
 */
#ifndef AICS_KERNELS_H
#define AICS_KERNELS_H

#include <stdint.h>

/* numerics.wrap(x, 32): two's-complement wrap to int32. */
static inline int64_t aics_wrap32(int64_t x) {
    return ((x + ((int64_t)1 << 31)) & (int64_t)0xFFFFFFFF) - ((int64_t)1 << 31);
}

/* clamp to [lo, hi] (saturation, activation clamp). */
static inline int64_t aics_clamp(int64_t x, int64_t lo, int64_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* numerics.multiply_by_quantized_multiplier: TFLite's single rounding,
 * (x * m + 2^(30 - s)) >> (31 - s), wrapped to int32. */
static inline int64_t aics_mbqm(int64_t x, int64_t mult, int shift) {
    const int total = 31 - shift;
    return aics_wrap32((x * mult + ((int64_t)1 << (total - 1))) >> total);
}

/* numerics.requantize: clamp(zp + MBQM(wrap32(acc + bias), mult, shift), lo, hi). */
static inline int64_t aics_requantize(int64_t acc, int64_t bias, int64_t mult, int shift,
                                      int64_t zp, int64_t lo, int64_t hi) {
    return aics_clamp(aics_mbqm(aics_wrap32(acc + bias), mult, shift) + zp, lo, hi);
}

/* numerics.kernels.rescale: clamp(zp + MBQM(wrap32(x << left), mult, shift), lo, hi). */
static inline int64_t aics_rescale(int64_t x, int left, int64_t mult, int shift,
                                   int64_t zp, int64_t lo, int64_t hi) {
    return aics_clamp(aics_mbqm(aics_wrap32(x * ((int64_t)1 << left)), mult, shift) + zp, lo, hi);
}

/* FixedType.apply_overflow: keep the low `width` bits (wrap) or clamp (sat). */
static inline int64_t aics_fixed_overflow(int64_t c, int width, int sat) {
    const int64_t lo = -((int64_t)1 << (width - 1));
    const int64_t hi = ((int64_t)1 << (width - 1)) - 1;
    if (sat) {
        return aics_clamp(c, lo, hi);
    }
    return ((c - lo) & (((int64_t)1 << width) - 1)) + lo;
}

/* FixedType.cast: a code with `drop` more fractional bits than the target (negative: fewer)
 * assigned to ap_fixed<width, ., rnd ? AP_RND : AP_TRN, sat ? AP_SAT : AP_WRAP>. */
static inline int64_t aics_fixed_cast(int64_t c, int drop, int width, int rnd, int sat) {
    if (drop > 0) {
        if (rnd) {
            c += (int64_t)1 << (drop - 1);
        }
        c >>= drop;
    } else if (drop < 0) {
        c *= (int64_t)1 << -drop;
    }
    return aics_fixed_overflow(c, width, sat);
}

/* floor(a / b) for b > 0 (C division truncates toward zero). */
static inline int64_t aics_floordiv(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* reference.int_elementwise.fixed_quotient: total / count (exact) assigned to the output type,
 * with `up` / `down` aligning the fractional bits of numerator and denominator. */
static inline int64_t aics_fixed_div(int64_t total, int64_t count, int up, int down,
                                     int width, int rnd, int sat) {
    const int64_t num = total * ((int64_t)1 << up);
    const int64_t den = count * ((int64_t)1 << down);
    const int64_t q = rnd ? aics_floordiv(2 * num + den, 2 * den) : aics_floordiv(num, den);
    return aics_fixed_overflow(q, width, sat);
}

/* numerics.rounding_divide: acc / count, nearest, ties away from zero (count > 0). */
static inline int64_t aics_rounding_divide(int64_t acc, int64_t count) {
    const int64_t mag = ((acc < 0 ? -acc : acc) + count / 2) / count;
    return acc < 0 ? -mag : mag;
}

#endif /* AICS_KERNELS_H */
