//! The BERT pass's matrix products `y = x · Wᵀ` (ADR 0007).
//!
//! A [`Linear`] weight is laid out once, at load, for the kernel this CPU
//! runs:
//!
//! - **AVX-512F**: our own kernel over weights packed into panels of
//!   [`NR`] = 48 output columns, each panel stored `k`-major (for every input
//!   index, the panel's 48 weights side by side, in page-aligned memory). The
//!   kernel holds an 8 × 48 tile of `y` in 24 registers and, for each input
//!   index, loads three 16-lane vectors of the panel and broadcasts eight
//!   values of `x`: 24 fused multiply-adds for 11 loads. The weights never
//!   change, so they are packed once, where a general GEMM packs its
//!   operands on every call. On a 2-core AMD EPYC (Zen 5) it reached
//!   185-218 GFLOPS on one core for the MiniLM shapes (faer: 150-206; the
//!   machine's FMA peak measured 226); on a Zen 4 EPYC (AVX-512 on 256-bit
//!   units) the whole pass ran 6.9 % faster than with faer (`make bench`'s
//!   kernels section, which decides whether the kernel stays).
//! - **Otherwise** (no AVX-512, or an output size that is not a multiple of
//!   48): faer's product over the weights stored column-major, which faer
//!   reads without packing them again.
//!
//! Both compute every output as one sum over the input in f32; they differ
//! only in summation order (~1e-6 relative).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::huge::HugeArray;

/// Output columns of a panel (three 16-lane vectors).
const NR: usize = 48;
/// Rows of `x` a tile covers (8 × 3 accumulators of 32 registers).
const MR: usize = 8;
/// Rows of `x` a block covers: each panel is read from L2 once a block.
const MB: usize = 64;
/// Below this many multiply-adds a product runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 20;

/// Which kernel a [`Linear`] is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// Our AVX-512F panel kernel.
    Panels,
    /// faer over the column-major weights.
    Faer,
}

impl Kernel {
    /// The fastest kernel this CPU can run for `out` output columns.
    pub fn best_for(out: usize) -> Kernel {
        if super::Path::Avx512.supported() && out.is_multiple_of(NR) {
            Kernel::Panels
        } else {
            Kernel::Faer
        }
    }
}

/// A linear layer's weight, `out × inp`, in the layout its kernel reads.
pub(crate) struct Linear {
    out: usize,
    inp: usize,
    kernel: Kernel,
    /// Panels: `out / NR` panels of `inp × NR`. Faer: `out × inp` column-major.
    w: HugeArray<f32>,
}

impl std::fmt::Debug for Linear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linear")
            .field("out", &self.out)
            .field("inp", &self.inp)
            .field("kernel", &self.kernel)
            .finish()
    }
}

impl Linear {
    /// `w` is row-major `out × inp` (PyTorch's layout); laid out for the
    /// fastest kernel this CPU runs.
    pub fn new(w: &[f32], out: usize, inp: usize) -> Self {
        Self::with_kernel(w, out, inp, Kernel::best_for(out))
    }

    /// As [`Linear::new`], for a given kernel. `Panels` needs AVX-512F and
    /// `out` a multiple of 48; otherwise `Faer` is used.
    pub fn with_kernel(w: &[f32], out: usize, inp: usize, kernel: Kernel) -> Self {
        assert_eq!(w.len(), out * inp, "weight size");
        let kernel = match kernel {
            Kernel::Panels if Kernel::best_for(out) == Kernel::Panels => Kernel::Panels,
            _ => Kernel::Faer,
        };
        let mut laid = vec![0f32; w.len()];
        for (o, row) in w.chunks_exact(inp.max(1)).enumerate().take(out) {
            for (k, &v) in row.iter().enumerate() {
                let at = match kernel {
                    Kernel::Panels => ((o / NR) * inp + k) * NR + o % NR,
                    Kernel::Faer => k * out + o,
                };
                laid[at] = v;
            }
        }
        Linear {
            out,
            inp,
            kernel,
            w: HugeArray::copy_of(&laid),
        }
    }

    /// The kernel this weight is laid out for.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// `y = x · Wᵀ` for `x`: `rows × inp` and `y`: `rows × out`, both
    /// row-major. `par` allows splitting a large product across threads.
    ///
    /// # Panics
    /// If `x` or `y` is shorter than the shapes say (a bug of the caller).
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut [f32], par: Par) {
        let (inp, out) = (self.inp, self.out);
        let (x, y) = (&x[..rows * inp], &mut y[..rows * out]);
        match self.kernel {
            Kernel::Faer => {
                let xt = MatRef::from_column_major_slice(x, inp, rows);
                let wm = MatRef::from_column_major_slice(&self.w, out, inp);
                let yt = MatMut::from_column_major_slice_mut(y, out, rows);
                matmul(yt, Accum::Replace, wm, xt, 1.0f32, par);
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Panels => {
                let panels = out / NR;
                let threads = match par {
                    Par::Seq => 1,
                    _ => rayon::current_num_threads(),
                };
                let groups = if rows * out * inp < PARALLEL_MIN {
                    1
                } else {
                    threads.min(panels).max(1)
                };
                let y_at = Shared(y.as_mut_ptr());
                let run = |g: usize| {
                    let from = panels * g / groups;
                    let to = panels * (g + 1) / groups;
                    // SAFETY: `Kernel::Panels` is only chosen when the CPU
                    // has AVX-512F (`best_for`); `x` holds `rows × inp`
                    // values, `y` `rows × out`, the weights `out / NR`
                    // panels of `inp × NR`; groups write disjoint columns.
                    unsafe { panel_product(x, rows, inp, &self.w, y_at.ptr(), out, from..to) }
                };
                if groups == 1 {
                    run(0);
                } else {
                    (0..groups).into_par_iter().for_each(run);
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Panels => unreachable!("panels need x86-64"),
        }
    }
}

/// `y`'s base pointer, shared by the threads that write disjoint columns.
#[derive(Clone, Copy)]
struct Shared(*mut f32);

impl Shared {
    /// The pointer (a method, so that closures capture the whole `Shared`).
    fn ptr(self) -> *mut f32 {
        self.0
    }
}
// SAFETY: the threads given a `Shared` write disjoint panels of columns.
unsafe impl Send for Shared {}
// SAFETY: as for `Send`: no two threads touch the same element of `y`.
unsafe impl Sync for Shared {}

/// Columns `panels × NR` of `y = x · Wᵀ`, block of rows by block of rows.
///
/// # Safety
/// AVX-512F; `x`: `rows × inp`; `y`: `rows × out` writable; `w`: the panels.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn panel_product(
    x: &[f32],
    rows: usize,
    inp: usize,
    w: &[f32],
    y: *mut f32,
    out: usize,
    panels: std::ops::Range<usize>,
) {
    let (x, w) = (x.as_ptr(), w.as_ptr());
    for m0 in (0..rows).step_by(MB) {
        let m1 = (m0 + MB).min(rows);
        for p in panels.clone() {
            // SAFETY: for every `add` below, rows < `rows`, columns within
            // panel `p` < out / NR, input indices < `inp`.
            unsafe {
                let wp = w.add(p * inp * NR);
                let mut r = m0;
                while r + MR <= m1 {
                    tile::<MR>(inp, x.add(r * inp), wp, y.add(r * out + p * NR), out);
                    r += MR;
                }
                let (xr, yr) = (x.add(r * inp), y.add(r * out + p * NR));
                match m1 - r {
                    1 => tile::<1>(inp, xr, wp, yr, out),
                    2 => tile::<2>(inp, xr, wp, yr, out),
                    3 => tile::<3>(inp, xr, wp, yr, out),
                    4 => tile::<4>(inp, xr, wp, yr, out),
                    5 => tile::<5>(inp, xr, wp, yr, out),
                    6 => tile::<6>(inp, xr, wp, yr, out),
                    7 => tile::<7>(inp, xr, wp, yr, out),
                    _ => {}
                }
            }
        }
    }
}

/// `R × 48` outputs: rows `x[0..R]` (each `k` long, consecutive) times one
/// panel (`k × 48`), written to `y` (rows `ldy` apart).
///
/// # Safety
/// AVX-512F, and the pointers cover those extents.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const R: usize>(k: usize, x: *const f32, w: *const f32, y: *mut f32, ldy: usize) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 3]; R];
    // SAFETY: the caller's extents: `k` inputs a row, `k × 48` panel
    // values, `R` rows of `y` with 48 columns from `y`.
    unsafe {
        for kk in 0..k {
            let b = w.add(kk * NR);
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.add(16));
            let b2 = _mm512_loadu_ps(b.add(32));
            for (r, a) in acc.iter_mut().enumerate() {
                let v = _mm512_set1_ps(*x.add(r * k + kk));
                a[0] = _mm512_fmadd_ps(v, b0, a[0]);
                a[1] = _mm512_fmadd_ps(v, b1, a[1]);
                a[2] = _mm512_fmadd_ps(v, b2, a[2]);
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let yr = y.add(r * ldy);
            _mm512_storeu_ps(yr, a[0]);
            _mm512_storeu_ps(yr.add(16), a[1]);
            _mm512_storeu_ps(yr.add(32), a[2]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// Both kernels against f64 sums, at row counts that leave every tile
    /// remainder and cross the block size, sequential and split across
    /// threads (the AVX-512 kernel only where the CPU has it).
    #[test]
    fn both_kernels_agree_with_f64_sums() {
        if Kernel::best_for(NR) != Kernel::Panels {
            eprintln!("no AVX-512F on this CPU: only the faer layout is checked");
        }
        for (inp, out) in [(384, 96), (40, 48), (7, 144), (1536, 48), (384, 100)] {
            let w = values(out * inp, 7 + inp as u64);
            for rows in [0usize, 1, 5, 8, 13, 64, 71, 150] {
                let x = values(rows * inp, rows as u64 + 1);
                let want: Vec<f64> = (0..rows * out)
                    .map(|at| {
                        let (r, o) = (at / out, at % out);
                        (0..inp)
                            .map(|k| x[r * inp + k] as f64 * w[o * inp + k] as f64)
                            .sum()
                    })
                    .collect();
                for kernel in [Kernel::Panels, Kernel::Faer] {
                    let lin = Linear::with_kernel(&w, out, inp, kernel);
                    if kernel == Kernel::Panels && out % NR != 0 {
                        assert_eq!(lin.kernel(), Kernel::Faer, "{out} columns fall back");
                    } else if kernel == Kernel::Panels {
                        // Where the CPU has AVX-512F the panel kernel must be
                        // what runs: never a silent fallback.
                        assert_eq!(
                            lin.kernel() == Kernel::Panels,
                            super::super::Path::Avx512.supported(),
                            "{out} columns"
                        );
                    }
                    for par in [Par::Seq, Par::rayon(2)] {
                        let mut y = vec![f32::NAN; rows * out];
                        lin.forward(&x, rows, &mut y, par);
                        for (at, (&got, &exp)) in y.iter().zip(&want).enumerate() {
                            assert!(
                                (got as f64 - exp).abs() <= 1e-5 * (1.0 + exp.abs()),
                                "{:?} {par:?} {rows}×{inp}·{out}ᵀ at {at}: {got} vs {exp}",
                                lin.kernel()
                            );
                        }
                    }
                }
            }
        }
    }
}
