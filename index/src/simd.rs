//! The inner product of two f32 vectors, with the widest SIMD the CPU has,
//! chosen once at run time, and a cache prefetch hint.
//!
//! Release builds target baseline x86-64 (SSE2), so the compiler alone would
//! use 4-wide vectors and no fused multiply-add. [`dot`] dispatches to an
//! AVX2 + FMA kernel when the CPU reports both (AVX-512 measured no faster on
//! this project's AMD EPYC machines); [`avx2_fma`] lets other modules do the
//! same (the BERT pass, `crate::bert`). Those calls and the prefetch hint
//! are the only `unsafe` code of this module (ADR 0005):
//! calling a `#[target_feature]` function is sound once the feature was
//! detected.

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

#[allow(unsafe_code)]
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

/// Asks the CPU to start loading the first four cache lines of `v` (a hint:
/// no effect on results, and a no-op off x86-64).
#[inline]
#[allow(unsafe_code)]
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
        prefetch::<f32>(&[]);
        prefetch(&[1.0f32; 1000]);
        prefetch(&[7u32; 33]);
    }
}
