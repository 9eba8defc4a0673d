//! Incremental updates: a new folder from an old one plus upserts and
//! deletions, appended and marked, or compacted past a share of dead rows.

use std::collections::HashSet;
use std::path::Path;

use hyrank_data::DocId;

use super::{ApplyReport, VectorIndex};
use crate::error::{Error, Result};
use crate::hnsw::Space;

/// Compact (rebuild without the deleted rows) when they exceed this share.
const COMPACT_AT: f64 = 0.3;

impl VectorIndex {
    /// Writes a new folder at `new_dir`: this folder's rows minus `deletes`,
    /// plus `upserts` (a product in both is replaced). Rows are appended and
    /// deleted rows only marked, and the HNSW graph is updated in place of a
    /// rebuild, unless deleted rows would exceed 30 %: then the folder is
    /// compacted (rewritten with the live rows only, graph rebuilt).
    pub fn apply(
        &self,
        new_dir: &Path,
        upserts: &[(DocId, Vec<f32>)],
        deletes: &[DocId],
    ) -> Result<ApplyReport> {
        let mut deleted = self.deleted.clone();
        let mut newly = 0usize;
        for id in deletes.iter().chain(upserts.iter().map(|(i, _)| i)) {
            if let Some(&r) = self.row_of.get(id) {
                if !deleted[r] {
                    deleted[r] = true;
                    newly += 1;
                }
            }
        }
        let mut seen = HashSet::new();
        for (id, v) in upserts {
            if v.len() != self.dim {
                return Err(Error::InvalidArgument(format!(
                    "vector of {id} has dimension {}, index has {}",
                    v.len(),
                    self.dim
                )));
            }
            if !seen.insert(id) {
                return Err(Error::InvalidArgument(format!(
                    "product id {id} appears twice"
                )));
            }
        }
        let old = self.matrix.as_slice();
        let total = self.ids.len() + upserts.len();
        let dead = deleted.iter().filter(|d| **d).count();
        if total > 0 && dead as f64 / total as f64 > COMPACT_AT {
            let mut ids = Vec::with_capacity(total - dead);
            let mut data = Vec::with_capacity((total - dead) * self.dim);
            for r in (0..self.ids.len()).filter(|&r| !deleted[r]) {
                ids.push(self.ids[r].clone());
                data.extend_from_slice(&old[r * self.dim..(r + 1) * self.dim]);
            }
            for (id, v) in upserts {
                ids.push(id.clone());
                data.extend_from_slice(v);
            }
            let none = vec![false; ids.len()];
            Self::write(new_dir, &ids, &data, &none, self.dim, self.config, None)?;
            return Ok(ApplyReport {
                added: upserts.len(),
                deleted: newly,
                compacted: true,
            });
        }
        let first_new = self.ids.len();
        let mut ids = self.ids.clone();
        let mut data = Vec::with_capacity(total * self.dim);
        data.extend_from_slice(old);
        for (id, v) in upserts {
            ids.push(id.clone());
            data.extend_from_slice(v);
            deleted.push(false);
        }
        // A new graph: this folder's, plus the new rows. Deleted rows stay
        // in it as waypoints (search never returns them).
        let graph = self.hnsw.as_ref().map(|g| {
            let added: Vec<usize> = (first_new..ids.len()).collect();
            g.extend(
                Space {
                    data: &data,
                    dim: self.dim,
                },
                &added,
            )
        });
        Self::write(
            new_dir,
            &ids,
            &data,
            &deleted,
            self.dim,
            self.config,
            graph.as_ref(),
        )?;
        Ok(ApplyReport {
            added: upserts.len(),
            deleted: newly,
            compacted: false,
        })
    }
}
