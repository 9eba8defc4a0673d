//! Every `unsafe` line of the workspace, and the SIMD paths it exists for.
//!
//! The rest of the workspace denies `unsafe_code`; this module allows it,
//! and clippy's `undocumented_unsafe_blocks` is denied everywhere, so each
//! block says why it is sound. The sites ([`UNSAFE_SITES`], checked by a
//! test that reads the crate's sources):
//!
//! | site | why |
//! |---|---|
//! | [`dot`]: 3 calls of `#[target_feature]` kernels, 1 prefetch | AVX2 + FMA (+ F16C) dot products, f32, int8 and f16 rows, after run-time detection; a prefetch hint that never faults |
//! | [`gemm`]: 1 call of the panel product, 2 `unsafe fn` and their 2 blocks, 2 `unsafe impl` | the BERT pass's AVX-512F matrix products over packed panels (raw pointers into checked extents; threads write disjoint columns) |
//! | [`run_avx2_fma`]: 1 call | the BERT pass's element-wise work compiled for AVX2 + FMA |
//! | [`map_file`]: 1 call | `vectors.bin` memory-mapped read-only (ADR 0005: vector folders are immutable once published) |
//!
//! Each dispatched path has a test that forces it on any CPU that can run
//! it ([`Path::supported`]) and compares it with a plain sum: the paths a CPU
//! supports always run, so a test never silently skips a path this machine
//! has; one it lacks is named on stderr.

#![allow(unsafe_code)]

pub(crate) mod dot;
pub(crate) mod gemm;

/// The number of `unsafe` blocks, `unsafe fn` and `unsafe impl` in the
/// crate: all in this module (the table above; the test `unsafe_lives_here`
/// counts them in the sources).
pub const UNSAFE_SITES: usize = 13;

/// A SIMD path a kernel can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// What the compiler makes of portable code for the build's target.
    Portable,
    /// AVX2 + FMA.
    Avx2Fma,
    /// AVX-512F.
    Avx512,
}

impl Path {
    /// Whether this CPU can run the path.
    pub(crate) fn supported(self) -> bool {
        match self {
            Path::Portable => true,
            Path::Avx2Fma => dot::avx2_fma(),
            Path::Avx512 => dot::avx512f(),
        }
    }
}

/// A body of work the kernels module compiles twice: once with AVX2 + FMA
/// enabled, once for the baseline; [`run_avx2_fma`] runs the widest the CPU
/// has. `run` should be `#[inline(always)]` and call `#[inline(always)]`
/// functions, so that the compiled-for-AVX2 copy is the whole body.
pub(crate) trait Body {
    /// What the work gives.
    type Output;
    /// The work.
    fn run(&self) -> Self::Output;
}

/// Runs `body` compiled for AVX2 + FMA when the CPU has both, else for the baseline.
pub(crate) fn run_avx2_fma<B: Body>(body: &B) -> B::Output {
    run_on(
        body,
        if dot::avx2_fma() {
            Path::Avx2Fma
        } else {
            Path::Portable
        },
    )
}

/// Runs `body` on `path` (a path the CPU lacks runs the baseline).
pub(crate) fn run_on<B: Body>(body: &B, path: Path) -> B::Output {
    #[cfg(target_arch = "x86_64")]
    if path == Path::Avx2Fma && dot::avx2_fma() {
        // SAFETY: `avx2_fma` found AVX2 and FMA on this CPU.
        return unsafe { run_avx2_fma_body(body) };
    }
    let _ = path;
    body.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2_fma_body<B: Body>(body: &B) -> B::Output {
    body.run()
}

/// Maps a file read-only.
///
/// `Mmap::map` is unsafe because another process could change the file
/// under the mapping. hyrank maps only vector folders' `vectors.bin`, which
/// are immutable once renamed into place (updates write a new generation;
/// old ones are only unlinked, which keeps the mapping valid on Unix), so
/// the bytes cannot change while mapped (ADR 0005).
pub(crate) fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: see above; the file is never written after its folder is
    // published, and it is only read through the mapping.
    unsafe { memmap2::Mmap::map(file) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `unsafe` of the crate is in this module, and there are as many
    /// as [`UNSAFE_SITES`] says (the number the docs quote).
    #[test]
    fn unsafe_lives_here() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut here = 0;
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let sites = text
                    .lines()
                    .map(|l| l.split("//").next().unwrap_or(""))
                    // (This test's own patterns are quoted: not sites.)
                    .filter(|l| !l.contains("contains(\"unsafe"))
                    .filter(|l| {
                        l.contains("unsafe {")
                            || l.contains("unsafe fn ")
                            || l.contains("unsafe impl ")
                    })
                    .count();
                let in_kernels = p.starts_with(src.join("kernels"));
                assert!(
                    in_kernels || sites == 0,
                    "{} has `unsafe` outside the kernels module",
                    p.display()
                );
                here += sites;
            }
        }
        assert_eq!(
            here, UNSAFE_SITES,
            "update UNSAFE_SITES and the table in kernels/mod.rs"
        );
    }

    struct Sum<'a>(&'a [f32]);
    impl Body for Sum<'_> {
        type Output = f32;
        #[inline(always)]
        fn run(&self) -> f32 {
            self.0.iter().sum()
        }
    }

    #[test]
    fn both_compilations_of_a_body_agree_on_every_supported_path() {
        let v: Vec<f32> = (0..1000).map(|i| (i % 7) as f32 * 0.5).collect();
        let want = v.iter().sum::<f32>();
        for path in [Path::Portable, Path::Avx2Fma] {
            if !path.supported() {
                eprintln!("this CPU lacks {path:?}: not run");
                continue;
            }
            assert_eq!(run_on(&Sum(&v), path), want, "{path:?}");
        }
    }
}
