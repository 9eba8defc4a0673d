//! The inner product of two f32 vectors (and of a query with int8 or f16
//! rows), with the widest SIMD the CPU has, chosen once at run time, and a
//! cache prefetch hint.
//!
//! Release builds target baseline x86-64 (SSE2), so the compiler alone would
//! use 4-wide vectors and no fused multiply-add. [`dot`] dispatches to an
//! AVX2 + FMA kernel when the CPU reports both (AVX-512 measured no faster for
//! these dot products on this project's AMD EPYC machines; the BERT pass's
//! matrix products do use it, [`super::gemm`]); [`avx2_fma`] lets other
//! modules do the same (the BERT pass, through [`super::run_avx2_fma`]).
//! Calling a `#[target_feature]` function is sound once the feature was
//! detected (ADR 0005).

use std::sync::OnceLock;

type Kernel = fn(&[f32], &[f32]) -> f32;

/// Whether this CPU has AVX2 and FMA (detected once).
pub(crate) fn avx2_fma() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    })
}

/// Whether this CPU has AVX-512F (detected once): the BERT pass's matrix
/// products (`crate::gemm`) use it.
pub(crate) fn avx512f() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    })
}

/// Lanes summed independently by the portable loop, so that consecutive
/// additions do not wait on each other.
const LANES: usize = 32;

/// The portable loop (what the compiler makes of it for the build target).
pub(crate) fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
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
    fma_steps(a, b, |y: &[f32; 8]| bytemuck::cast(*y), |y| y)
}

/// The loop every AVX2 kernel shares: `r` read 32 values a step as four
/// groups of 8, each widened to 8 × f32 by `widen`, into four FMA
/// accumulators against `q`; the tail (under 32) in scalar code through
/// `scalar`; the lanes summed pairwise.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn fma_steps<T: Copy>(
    q: &[f32],
    r: &[T],
    widen: impl Fn(&[T; 8]) -> std::arch::x86_64::__m256,
    scalar: impl Fn(T) -> f32,
) -> f32 {
    use std::arch::x86_64::{__m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_setzero_ps};
    let n = q.len().min(r.len());
    let (cq, rq) = q[..n].as_chunks::<32>();
    let (cr, rr) = r[..n].as_chunks::<32>();
    let mut s = [_mm256_setzero_ps(); 4];
    for (x, y) in cq.iter().zip(cr) {
        let x: &[[f32; 8]; 4] = bytemuck::cast_ref(x);
        let (y, _) = y.as_chunks::<8>();
        for j in 0..4 {
            let a: __m256 = bytemuck::cast(x[j]);
            s[j] = _mm256_fmadd_ps(a, widen(&y[j]), s[j]);
        }
    }
    let mut tail = 0f32;
    for (x, &y) in rq.iter().zip(rr) {
        tail = x.mul_add(scalar(y), tail);
    }
    let t: [f32; 8] = bytemuck::cast(_mm256_add_ps(
        _mm256_add_ps(s[0], s[1]),
        _mm256_add_ps(s[2], s[3]),
    ));
    ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7])) + tail
}
fn pick() -> Kernel {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: `avx2_fma` found AVX2 and FMA on this CPU.
        return |a, b| unsafe { dot_avx2(a, b) };
    }
    dot_portable
}

/// `Σ a_i · b_i` over the shorter of the two slices.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    (KERNEL.get_or_init(pick))(a, b)
}

/// The kernel [`dot`] uses on this CPU (`avx2+fma` or `portable`).
pub(crate) fn kernel_name() -> &'static str {
    if avx2_fma() {
        "avx2+fma"
    } else {
        "portable"
    }
}

/// Whether this CPU converts f16 to f32 in hardware (F16C), with AVX2 + FMA.
pub(crate) fn avx2_fma_f16c() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            avx2_fma() && std::arch::is_x86_feature_detected!("f16c")
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    })
}

/// `Σ q_i · r_i` with the row stored as int8 codes: `q` is the query already
/// multiplied by each dimension's dequantisation step, so the result is the
/// inner product with the dequantised row.
pub(crate) fn dot_i8(q: &[f32], r: &[i8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: `avx2_fma` found AVX2 and FMA on this CPU.
        return unsafe { dot_i8_avx2(q, r) };
    }
    dot_i8_portable(q, r)
}

/// [`dot_i8`]'s portable path.
pub(crate) fn dot_i8_portable(q: &[f32], r: &[i8]) -> f32 {
    q.iter().zip(r).map(|(a, &b)| a * f32::from(b)).sum()
}

/// `Σ q_i · r_i` with the row stored as IEEE half floats (their bits).
pub(crate) fn dot_f16(q: &[f32], r: &[u16]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_f16c() {
        // SAFETY: `avx2_fma_f16c` found AVX2, FMA and F16C on this CPU.
        return unsafe { dot_f16_avx2(q, r) };
    }
    dot_f16_portable(q, r)
}

/// [`dot_f16`]'s portable path.
pub(crate) fn dot_f16_portable(q: &[f32], r: &[u16]) -> f32 {
    q.iter()
        .zip(r)
        .map(|(a, &b)| a * half::f16::from_bits(b).to_f32())
        .sum()
}

/// Eight codes at a time: sign-extended to 8 × i32, converted to f32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_i8_avx2(q: &[f32], r: &[i8]) -> f32 {
    use std::arch::x86_64::{_mm256_cvtepi32_ps, _mm256_cvtepi8_epi32, _mm_set_epi64x};
    fma_steps(
        q,
        r,
        |y: &[i8; 8]| {
            let b = _mm_set_epi64x(0, i64::from_le_bytes(bytemuck::cast(*y)));
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b))
        },
        f32::from,
    )
}

/// Eight halves at a time through the F16C conversion.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_f16_avx2(q: &[f32], r: &[u16]) -> f32 {
    use std::arch::x86_64::{_mm256_cvtph_ps, _mm_set_epi64x};
    fma_steps(
        q,
        r,
        |y: &[u16; 8]| {
            let w: [i64; 2] = bytemuck::cast(*y);
            _mm256_cvtph_ps(_mm_set_epi64x(w[1], w[0]))
        },
        |y| half::f16::from_bits(y).to_f32(),
    )
}

/// Asks the CPU to start loading the first four cache lines of `v` (a hint:
/// no effect on results, and a no-op off x86-64).
#[inline]
pub(crate) fn prefetch<T>(v: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // One hint per 64-byte line, at most the first four lines (the rest
        // follows while the first are consumed).
        for line in v.chunks((64 / size_of::<T>().max(1)).max(1)).take(4) {
            // SAFETY: prefetching is a hint that never faults, whatever the
            // address; this one points into a live slice. SSE is part of the
            // x86-64 baseline, so the instruction always exists.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

#[cfg(test)]
mod tests {
    use super::super::Path;
    use super::*;

    /// The paths each kernel has, each forced where the CPU runs it: the
    /// dispatched functions take the SIMD path whenever the CPU has it (the
    /// test checks that they do), the `_portable` ones never.
    fn paths() -> Vec<Path> {
        let mut p = vec![Path::Portable];
        if Path::Avx2Fma.supported() {
            assert_eq!(
                kernel_name(),
                "avx2+fma",
                "the CPU has AVX2 + FMA: dispatch must use it"
            );
            p.push(Path::Avx2Fma);
        } else {
            eprintln!("this CPU lacks AVX2 + FMA: its kernels are not run");
        }
        p
    }

    #[test]
    fn every_kernel_agrees_with_a_plain_sum() {
        for path in paths() {
            for n in [0usize, 1, 7, 31, 32, 33, 384, 385, 1000] {
                let a: Vec<f32> = (0..n)
                    .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                    .collect();
                let b: Vec<f32> = (0..n)
                    .map(|i| ((i * 53 % 97) as f32 - 48.0) / 48.0)
                    .collect();
                let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
                let got = match path {
                    Path::Portable => dot_portable(&a, &b),
                    _ => dot(&a, &b),
                };
                assert!(
                    (got as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "{path:?} n = {n}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn quantized_kernels_agree_with_dequantised_sums() {
        if Path::Avx2Fma.supported() && !avx2_fma_f16c() {
            eprintln!("this CPU lacks F16C: the f16 kernel's SIMD path is not run");
        }
        for path in paths() {
            for n in [0usize, 1, 7, 31, 32, 33, 384, 385] {
                let q: Vec<f32> = (0..n)
                    .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                    .collect();
                let codes: Vec<i8> = (0..n)
                    .map(|i| ((i * 53 % 255) as i32 - 127) as i8)
                    .collect();
                let want: f64 = q
                    .iter()
                    .zip(&codes)
                    .map(|(a, &b)| *a as f64 * b as f64)
                    .sum();
                let got = match path {
                    Path::Portable => dot_i8_portable(&q, &codes),
                    _ => dot_i8(&q, &codes),
                } as f64;
                assert!(
                    (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                    "{path:?} i8 n = {n}: {got} vs {want}"
                );
                let halves: Vec<u16> = (0..n)
                    .map(|i| half::f16::from_f32(((i * 29 % 89) as f32 - 44.0) / 44.0).to_bits())
                    .collect();
                let want: f64 = q
                    .iter()
                    .zip(&halves)
                    .map(|(a, &b)| *a as f64 * half::f16::from_bits(b).to_f64())
                    .sum();
                let got = match path {
                    Path::Portable => dot_f16_portable(&q, &halves),
                    _ => dot_f16(&q, &halves),
                } as f64;
                assert!(
                    (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "{path:?} f16 n = {n}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn prefetch_accepts_any_slice() {
        prefetch::<f32>(&[]);
        prefetch(&[1.0f32; 1000]);
        prefetch(&[7u32; 33]);
    }
}
