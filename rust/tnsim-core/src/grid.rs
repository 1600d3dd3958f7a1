//! Finding a core's index from its grid position.

use std::collections::HashMap;

use crate::network::Network;

/// Core index by grid position: a dense table over the bounding box of the configured cores
/// when that is small enough, else a hash map.
#[derive(Debug, Clone)]
pub enum GridIndex {
    /// Every position of the bounding box holds a core: cores are sorted by x, then y, so the
    /// index is arithmetic.
    Full {
        x0: u32,
        y0: u32,
        width: u32,
        height: u32,
    },
    Dense {
        x0: u32,
        y0: u32,
        width: u32,
        height: u32,
        table: Vec<u32>,
    },
    Sparse(HashMap<(u32, u32), u32>),
}

/// Largest dense table (entries); beyond it the index is a hash map.
const DENSE_INDEX_MAX: u64 = 1 << 24;

impl GridIndex {
    pub fn new(network: &Network) -> Self {
        let coords: Vec<(u32, u32)> = network.coordinates().collect();
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for &(x, y) in &coords {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        if coords.is_empty() {
            return GridIndex::Sparse(HashMap::new());
        }
        let (width, height) = (x1 - x0 + 1, y1 - y0 + 1);
        if coords.len() as u64 == width as u64 * height as u64 {
            return GridIndex::Full { x0, y0, width, height };
        }
        if width as u64 * height as u64 <= DENSE_INDEX_MAX {
            let mut table = vec![u32::MAX; (width * height) as usize];
            for (i, &(x, y)) in coords.iter().enumerate() {
                table[((y - y0) * width + (x - x0)) as usize] = i as u32;
            }
            GridIndex::Dense { x0, y0, width, height, table }
        } else {
            GridIndex::Sparse(coords.iter().enumerate().map(|(i, &xy)| (xy, i as u32)).collect())
        }
    }

    /// The index of the core at (x, y), if one is configured there.
    #[inline(always)]
    pub fn get(&self, x: u32, y: u32) -> Option<u32> {
        match self {
            GridIndex::Full { x0, y0, width, height } => {
                let (dx, dy) = (x.wrapping_sub(*x0), y.wrapping_sub(*y0));
                (dx < *width && dy < *height).then_some(dx * height + dy)
            }
            GridIndex::Dense { x0, y0, width, height, table } => {
                let (dx, dy) = (x.wrapping_sub(*x0), y.wrapping_sub(*y0));
                if dx >= *width || dy >= *height {
                    return None;
                }
                Some(table[(dy * width + dx) as usize]).filter(|&i| i != u32::MAX)
            }
            GridIndex::Sparse(map) => map.get(&(x, y)).copied(),
        }
    }

    pub fn memory_bytes(&self) -> usize {
        match self {
            GridIndex::Full { .. } => 0,
            GridIndex::Dense { table, .. } => table.capacity() * 4,
            GridIndex::Sparse(map) => map.capacity() * 16,
        }
    }

    /// The index of the core at a position known to hold one (a validated target).
    #[inline(always)]
    pub fn index_of(&self, x: u32, y: u32) -> u32 {
        self.get(x, y).unwrap_or(u32::MAX)
    }
}
