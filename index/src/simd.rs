//! The inner product of two f32 vectors, with the widest SIMD the CPU has,
//! chosen once at run time, and a cache prefetch hint.
//!
//! Release builds target baseline x86-64 (SSE2), so the compiler alone would
//! use 4-wide vectors and no fused multiply-add. [`dot`] dispatches to an
//! AVX2 + FMA kernel when the CPU reports both (AVX-512 measured no faster on
//! this project's AMD EPYC machines); [`bias_gelu`] likewise. Those calls and
//! the prefetch hint are the only `unsafe` code of this module (ADR 0005):
//! calling a `#[target_feature]` function is sound once the feature was
//! detected.

use std::sync::OnceLock;

type Kernel = fn(&[f32], &[f32]) -> f32;

static KERNEL: OnceLock<(Kernel, &'static str)> = OnceLock::new();

/// Lanes summed independently: four 8-wide or two 16-wide accumulators, so
/// that consecutive fused multiply-adds do not wait on each other.
const LANES: usize = 32;

#[inline(always)]
fn dot_plain_body(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    reduce(&acc) + tail
}

/// Pairwise sum of the lanes (the same order on every path).
#[inline(always)]
fn reduce(acc: &[f32; LANES]) -> f32 {
    let mut v = *acc;
    let mut w = LANES / 2;
    while w > 0 {
        for i in 0..w {
            v[i] += v[i + w];
        }
        w /= 2;
    }
    v[0]
}

/// AVX2 + FMA: four 8-wide accumulators over 32 floats a step. (Written
/// with intrinsics: the auto-vectoriser turned the portable loop into 2-wide
/// operations, 3x slower.) Loads are `bytemuck` casts, so the function body
/// needs no `unsafe`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::{__m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_setzero_ps};
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<32>();
    let (cb, rb) = b[..n].as_chunks::<32>();
    let mut s = [_mm256_setzero_ps(); 4];
    for (x, y) in ca.iter().zip(cb) {
        let x: &[[f32; 8]; 4] = bytemuck::cast_ref(x);
        let y: &[[f32; 8]; 4] = bytemuck::cast_ref(y);
        for j in 0..4 {
            let vx: __m256 = bytemuck::cast(x[j]);
            let vy: __m256 = bytemuck::cast(y[j]);
            s[j] = _mm256_fmadd_ps(vx, vy, s[j]);
        }
    }
    let t = _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3]));
    let l: [f32; 8] = bytemuck::cast(t);
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail = x.mul_add(*y, tail);
    }
    ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7])) + tail
}

/// The portable loop (what the compiler makes of it for the build target).
pub(crate) fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    dot_plain_body(a, b)
}

#[allow(unsafe_code)]
fn pick() -> (Kernel, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: AVX2 and FMA were detected on this CPU just above.
            return (|a, b| unsafe { dot_avx2(a, b) }, "avx2+fma");
        }
    }
    (dot_portable, "portable")
}

#[inline(always)]
fn bias_gelu_body(x: &mut [f32], b: &[f32]) {
    for (v, c) in x.iter_mut().zip(b) {
        *v = crate::bert::gelu(*v + c);
    }
}

/// The same loop compiled for AVX2 + FMA (8 lanes instead of SSE's 4).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn bias_gelu_avx2(x: &mut [f32], b: &[f32]) {
    bias_gelu_body(x, b);
}

/// `x_i ← GELU(x_i + b_i)` (the erf form, [`crate::bert::erf`]).
#[allow(unsafe_code)]
pub(crate) fn bias_gelu(x: &mut [f32], b: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if kernel_name() == "avx2+fma" {
        // SAFETY: `kernel_name` reports avx2+fma only after
        // `is_x86_feature_detected!` found both on this CPU.
        unsafe { bias_gelu_avx2(x, b) };
        return;
    }
    bias_gelu_body(x, b);
}

/// `Σ a_i · b_i` over the shorter of the two slices.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    (KERNEL.get_or_init(pick).0)(a, b)
}

/// The kernel [`dot`] uses on this CPU (`avx2+fma` or `portable`).
pub(crate) fn kernel_name() -> &'static str {
    KERNEL.get_or_init(pick).1
}

/// Asks the CPU to start loading the cache lines of `v` (a hint: no effect on
/// results, and a no-op off x86-64).
#[inline]
#[allow(unsafe_code)]
pub(crate) fn prefetch(v: &[f32], lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // One hint per 64-byte line, at most the first four lines (the rest
        // follows while the first are consumed).
        for line in v.chunks(16).take(lines) {
            // SAFETY: prefetching is a hint that never faults, whatever the
            // address; this one points into a live slice. SSE is part of the
            // x86-64 baseline, so the instruction always exists.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (v, lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_agrees_with_a_plain_sum() {
        for n in [0usize, 1, 7, 31, 32, 33, 384, 385, 1000] {
            let a: Vec<f32> = (0..n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                .collect();
            let b: Vec<f32> = (0..n)
                .map(|i| ((i * 53 % 97) as f32 - 48.0) / 48.0)
                .collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            for got in [dot(&a, &b), dot_portable(&a, &b)] {
                assert!(
                    (got as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "n = {n}: {got} vs {want} ({})",
                    kernel_name()
                );
            }
        }
        assert!(["avx2+fma", "portable"].contains(&kernel_name()));
    }

    #[test]
    fn prefetch_accepts_any_slice() {
        prefetch(&[], 4);
        prefetch(&[1.0; 1000], 100);
    }
}
