//! NumPy `.npy` files of 2-d little-endian float32 matrices (C order): the
//! vectors `hyrank embed` writes and `hyrank bench vectors` reads, and what
//! numpy, faiss and hnswlib scripts exchange.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, IoContext, Location, Result};
use crate::fsio::AtomicFile;

fn bad(path: &Path, why: impl Into<String>) -> Error {
    Error::parse(Location::new(path, 0), why)
}

/// Reads a 2-d float32 `.npy` (format 1, 2 or 3; C order) as rows.
pub fn read_npy(path: &Path) -> Result<Vec<Vec<f32>>> {
    super::refuse_lfs_pointer(path)?;
    let b = std::fs::read(path).at(path)?;
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(bad(path, "not a .npy file (no \\x93NUMPY magic)"));
    }
    let (hlen, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        _ if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        _ => return Err(bad(path, "truncated header")),
    };
    let header = b
        .get(start..start + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad(path, "truncated or non-UTF-8 header"))?;
    if !header.contains("'<f4'") || header.contains("'fortran_order': True") {
        return Err(bad(
            path,
            format!("expected little-endian float32 in C order, header {header}"),
        ));
    }
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| bad(path, "no shape in the header"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| x.trim().parse())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad(path, format!("shape ({shape}) is not numbers")))?;
    let [n, d] = dims[..] else {
        return Err(bad(path, format!("expected a 2-d array, shape ({shape})")));
    };
    let data = &b[start + hlen..];
    if data.len() != n * d * 4 || d == 0 && n > 0 {
        return Err(bad(
            path,
            format!(
                "{n} × {d} floats need {} bytes, found {}",
                n * d * 4,
                data.len()
            ),
        ));
    }
    Ok(data
        .chunks_exact((d * 4).max(1))
        .map(|r| {
            r.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .collect())
}

/// Writes rows of `dim` floats as a 2-d float32 `.npy` (format 1), atomically.
pub fn write_npy(path: &Path, rows: &[Vec<f32>], dim: usize) -> Result<()> {
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != dim) {
        return Err(Error::InvalidArgument(format!(
            "row {i} has {} values, not {dim}",
            r.len()
        )));
    }
    let header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {dim}), }}",
        rows.len()
    );
    // The header (with its newline) pads the preamble to a multiple of 64 bytes.
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    let header = format!("{header}{}\n", " ".repeat(pad));
    let mut f = AtomicFile::create(path)?;
    f.write_all(b"\x93NUMPY\x01\x00").at(path)?;
    f.write_all(&(header.len() as u16).to_le_bytes()).at(path)?;
    f.write_all(header.as_bytes()).at(path)?;
    for r in rows {
        for x in r {
            f.write_all(&x.to_le_bytes()).at(path)?;
        }
    }
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.npy");
        let rows = vec![vec![1.0, -2.5, 3.0], vec![0.0, 0.5, 1e-3]];
        write_npy(&p, &rows, 3).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(
            (10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64,
            0
        );
        assert_eq!(read_npy(&p).unwrap(), rows);
        assert!(write_npy(&p, &rows, 2).is_err());
        std::fs::write(&p, b"not numpy").unwrap();
        assert!(read_npy(&p).unwrap_err().to_string().contains("not a .npy"));
        let mut short = bytes.clone();
        short.truncate(bytes.len() - 4);
        std::fs::write(&p, short).unwrap();
        assert!(read_npy(&p)
            .unwrap_err()
            .to_string()
            .contains("need 24 bytes"));
    }
}
