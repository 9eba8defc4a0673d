//! ADR 0004's measurement of hnsw_rs on the files `make bench` writes:
//! `cd bench/hnsw_rs_probe && RAYON_NUM_THREADS=2 cargo run --release -- ../../out/bench-vectors-data`
//! (`truth10.u32`, the exact top-10 of each query as u32 row numbers, is
//! written by `bench/run.py`). Not part of the workspace, never run by tests.
#![allow(clippy::unwrap_used)]

use anndists::dist::DistDot;
use hnsw_rs::prelude::*;
use std::time::Instant;

fn npy_f32(path: &str) -> (Vec<f32>, usize, usize) {
    let b = std::fs::read(path).unwrap();
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let h = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
    let shape = h.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let d: Vec<usize> = shape.split(',').filter(|x| !x.trim().is_empty()).map(|x| x.trim().parse().unwrap()).collect();
    let data = b[10 + hlen..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    (data, d[0], d[1])
}

fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let (base, n, dim) = npy_f32(&format!("{dir}/base.npy"));
    let (q, nq, _) = npy_f32(&format!("{dir}/queries.npy"));
    let truth: Vec<u32> = std::fs::read(format!("{dir}/truth10.u32")).unwrap().chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let t = Instant::now();
    let h: Hnsw<f32, DistDot> = Hnsw::new(16, n, 16, 200, DistDot {});
    let rows: Vec<(&[f32], usize)> = (0..n).map(|i| (&base[i * dim..(i + 1) * dim], i)).collect();
    h.parallel_insert_slice(&rows);
    println!("hnsw_rs build {:.1}s (threads: rayon default)", t.elapsed().as_secs_f64());
    for ef in [16usize, 32, 64, 128, 256] {
        let mut best = f64::INFINITY;
        let mut found = 0;
        for _ in 0..3 {
            found = 0;
            let t = Instant::now();
            for i in 0..nq {
                let r = h.search(&q[i * dim..(i + 1) * dim], 10, ef);
                let tr = &truth[i * 10..(i + 1) * 10];
                found += r.iter().filter(|x| tr.contains(&(x.d_id as u32))).count();
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("ef {ef}: recall@10 {:.3} QPS {:.0}", found as f64 / (10 * nq) as f64, nq as f64 / best);
    }
}
