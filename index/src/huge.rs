//! Read-only arrays in anonymous memory advised for transparent huge pages.
//!
//! The HNSW walk reads one 1.5 KB vector and one link list per visited node,
//! at random across the whole matrix. With 4 KB pages nearly every such read
//! also misses the TLB (100k × 384 f32 is 37,500 pages; the second-level TLB
//! holds about 2,000); with 2 MB pages the same matrix is 75 pages. A file
//! mapping gets 4 KB pages, so a graph index copies its matrix and its level-0
//! links into memory like this (ADR 0008). Where the kernel gives no huge
//! pages (`transparent_hugepage` set to `never`), the advice is ignored and
//! the array is an ordinary copy.

use bytemuck::Pod;
use std::marker::PhantomData;

/// A read-only array of `T` (`Deref<Target = [T]>`).
pub(crate) struct HugeArray<T> {
    mem: Mem<T>,
}

enum Mem<T> {
    Map(memmap2::MmapMut, PhantomData<T>),
    /// Empty arrays (an anonymous mapping cannot be empty), and the fallback
    /// when no mapping can be made.
    Heap(Vec<T>),
}

impl<T: Pod> HugeArray<T> {
    /// A copy of `items`.
    pub fn copy_of(items: &[T]) -> Self {
        let bytes: &[u8] = bytemuck::cast_slice(items);
        let map = (!bytes.is_empty())
            .then(|| memmap2::MmapMut::map_anon(bytes.len()).ok())
            .flatten();
        let mem = match map {
            Some(mut m) => {
                // Advice only: refused or ignored, the copy is still correct.
                #[cfg(target_os = "linux")]
                let _ = m.advise(memmap2::Advice::HugePage);
                m.copy_from_slice(bytes);
                Mem::Map(m, PhantomData)
            }
            None => Mem::Heap(items.to_vec()),
        };
        Self { mem }
    }
}

impl<T: Pod> std::ops::Deref for HugeArray<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.mem {
            // An anonymous mapping is page-aligned and holds exactly the
            // copied items, so the cast cannot fail.
            Mem::Map(m, _) => bytemuck::try_cast_slice(&m[..]).unwrap_or(&[]),
            Mem::Heap(v) => v,
        }
    }
}

impl<T: Pod> std::fmt::Debug for HugeArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HugeArray({} items)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_read_back() {
        let v: Vec<u32> = (0..100_000).collect();
        let a = HugeArray::copy_of(&v);
        assert_eq!(&a[..], &v[..]);
        assert_eq!(format!("{a:?}"), "HugeArray(100000 items)");
        let e = HugeArray::<f32>::copy_of(&[]);
        assert!(e.is_empty());
    }
}
