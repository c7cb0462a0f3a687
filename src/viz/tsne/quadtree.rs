//! The quadtree of the Barnes-Hut approximation: the repulsive forces on a point from a far-away
//! cell of points are those of one point of the cell's whole mass at its centre of mass.
//!
//! A cell is far enough when its width² / (distance to its centre of mass)² < θ², sklearn's
//! criterion (`_QuadTree.summarize`, with the width the larger of the cell's two sides). Leaves
//! hold points of identical coordinates (normally one); the query point itself is skipped at its
//! leaf, its duplicates are not. The tree is built sequentially in point order, so its sums are
//! the same on every run.

/// No child / no point.
const NONE: u32 = u32::MAX;
/// Cells are not split below this depth; points still closer share a leaf (counted exactly).
const MAX_DEPTH: usize = 48;

#[derive(Clone, Debug)]
struct Cell {
    centre: [f64; 2],
    half_width: [f64; 2],
    /// (the larger side)², for the opening criterion.
    squared_width: f64,
    /// Σ of member positions while building, the centre of mass after [`QuadTree::build`].
    centre_of_mass: [f64; 2],
    count: u32,
    /// Index of the first of four consecutive children, or NONE for a leaf.
    first_child: u32,
    /// A leaf's first point (the others follow through `next_in_leaf`), or NONE.
    first_point: u32,
    depth: u32,
}

impl Cell {
    fn new(centre: [f64; 2], half_width: [f64; 2], depth: u32) -> Self {
        let width = 2.0 * half_width[0].max(half_width[1]);
        Cell { centre, half_width, squared_width: width * width, centre_of_mass: [0.0; 2], count: 0, first_child: NONE, first_point: NONE, depth }
    }

    fn quadrant_of(&self, point: [f64; 2]) -> u32 {
        (point[0] >= self.centre[0]) as u32 + 2 * (point[1] >= self.centre[1]) as u32
    }
}

impl QuadTree<'_> {
    /// The points in the order of a depth-first walk of the tree: neighbours in this order walk
    /// mostly the same cells, so querying in it keeps those cells in cache.
    pub fn spatial_order(&self) -> Vec<u32> {
        let mut order = Vec::with_capacity(self.points.len());
        let mut stack = vec![0u32];
        while let Some(at) = stack.pop() {
            let cell = &self.cells[at as usize];
            if cell.first_child != NONE {
                stack.extend((0..4).rev().map(|c| cell.first_child + c));
            } else {
                let mut member = cell.first_point;
                while member != NONE {
                    order.push(member);
                    member = self.next_in_leaf[member as usize];
                }
            }
        }
        order
    }
}

pub struct QuadTree<'a> {
    points: &'a [[f64; 2]],
    cells: Vec<Cell>,
    next_in_leaf: Vec<u32>,
}

/// What a point feels from the rest: Σ_j t_ij (the unnormalised Student-t kernel, t = 1/(1 + d²))
/// and Σ_j t_ij² (y_i − y_j), both over j ≠ i, the far ones through summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Repulsion {
    pub kernel_sum: f64,
    pub force: [f64; 2],
}

impl<'a> QuadTree<'a> {
    pub fn build(points: &'a [[f64; 2]]) -> Self {
        let (mut low, mut high) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in points {
            for d in 0..2 {
                low[d] = low[d].min(p[d]);
                high[d] = high[d].max(p[d]);
            }
        }
        // A little wider than the points, so that the largest ones fall strictly inside.
        let centre = [0, 1].map(|d| (low[d] + high[d]) / 2.0);
        let half_width = [0, 1].map(|d| ((high[d] - low[d]) / 2.0 * (1.0 + 1e-3)).max(1e-9));
        let mut tree = QuadTree { points, cells: vec![Cell::new(centre, half_width, 0)], next_in_leaf: vec![NONE; points.len()] };
        for index in 0..points.len() {
            tree.insert(index as u32);
        }
        for cell in &mut tree.cells {
            if cell.count > 0 {
                cell.centre_of_mass = cell.centre_of_mass.map(|s| s / cell.count as f64);
            }
        }
        tree
    }

    fn insert(&mut self, index: u32) {
        let point = self.points[index as usize];
        let mut at = 0usize;
        loop {
            let cell = &mut self.cells[at];
            cell.count += 1;
            cell.centre_of_mass[0] += point[0];
            cell.centre_of_mass[1] += point[1];
            if cell.first_child == NONE {
                if cell.first_point == NONE {
                    cell.first_point = index;
                    return;
                }
                let resident = self.points[cell.first_point as usize];
                if resident == point || cell.depth as usize >= MAX_DEPTH {
                    self.next_in_leaf[index as usize] = cell.first_point;
                    self.cells[at].first_point = index;
                    return;
                }
                self.split(at);
            }
            let cell = &self.cells[at];
            at = (cell.first_child + cell.quadrant_of(point)) as usize;
        }
    }

    /// Turns leaf `at` into four children and moves its residents (all at one position) into the
    /// child that contains them. The leaf's sums already include the point being inserted, which
    /// the caller then adds to its own child.
    fn split(&mut self, at: usize) {
        let parent = self.cells[at].clone();
        let first_child = self.cells.len() as u32;
        let half = parent.half_width.map(|w| w / 2.0);
        for quadrant in 0..4u32 {
            let offset = |bit: u32, d: usize| if quadrant & bit != 0 { half[d] } else { -half[d] };
            let centre = [parent.centre[0] + offset(1, 0), parent.centre[1] + offset(2, 1)];
            self.cells.push(Cell::new(centre, half, parent.depth + 1));
        }
        let resident = self.points[parent.first_point as usize];
        let residents = parent.count - 1;
        let child = &mut self.cells[(first_child + parent.quadrant_of(resident)) as usize];
        child.count = residents;
        child.centre_of_mass = resident.map(|r| r * residents as f64);
        child.first_point = parent.first_point;
        let cell = &mut self.cells[at];
        cell.first_child = first_child;
        cell.first_point = NONE;
    }

    /// The repulsion on point `index` with opening angle `theta` (0: every pair exactly).
    pub fn repulsion(&self, index: usize, theta: f64) -> Repulsion {
        let mut result = Repulsion::default();
        self.visit(0, index, self.points[index], theta * theta, &mut result);
        result
    }

    fn visit(&self, at: usize, index: usize, point: [f64; 2], squared_theta: f64, result: &mut Repulsion) {
        let cell = &self.cells[at];
        if cell.count == 0 {
            return;
        }
        if cell.first_child == NONE {
            let mut member = cell.first_point;
            while member != NONE {
                if member as usize != index {
                    add_interaction(point, self.points[member as usize], 1.0, result);
                }
                member = self.next_in_leaf[member as usize];
            }
            return;
        }
        let difference = [point[0] - cell.centre_of_mass[0], point[1] - cell.centre_of_mass[1]];
        let squared_distance = difference[0] * difference[0] + difference[1] * difference[1];
        if cell.squared_width < squared_theta * squared_distance {
            add_interaction(point, cell.centre_of_mass, cell.count as f64, result);
            return;
        }
        for child in cell.first_child..cell.first_child + 4 {
            if self.cells[child as usize].count > 0 {
                self.visit(child as usize, index, point, squared_theta, result);
            }
        }
    }
}

/// Adds `mass` points at `other` to the repulsion felt at `point`.
#[inline]
fn add_interaction(point: [f64; 2], other: [f64; 2], mass: f64, result: &mut Repulsion) {
    let difference = [point[0] - other[0], point[1] - other[1]];
    let kernel = 1.0 / (1.0 + difference[0] * difference[0] + difference[1] * difference[1]);
    result.kernel_sum += mass * kernel;
    let weight = mass * kernel * kernel;
    result.force[0] += weight * difference[0];
    result.force[1] += weight * difference[1];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Rng;

    fn exact(points: &[[f64; 2]], index: usize) -> Repulsion {
        let mut result = Repulsion::default();
        for (j, &other) in points.iter().enumerate() {
            if j != index {
                add_interaction(points[index], other, 1.0, &mut result);
            }
        }
        result
    }

    #[test]
    fn theta_zero_is_exact_and_theta_half_is_close() {
        let mut rng = Rng::new(6);
        let mut points: Vec<[f64; 2]> = (0..700).map(|_| [rng.normal() as f64 * 5.0, rng.normal() as f64 * 2.0]).collect();
        // Duplicates and a near-duplicate (which needs many levels to separate).
        points.push(points[3]);
        points.push(points[3]);
        points.push([points[10][0] + 1e-12, points[10][1]]);
        let tree = QuadTree::build(&points);
        assert_eq!(tree.cells[0].count as usize, points.len());
        let mut order = tree.spatial_order();
        order.sort_unstable();
        assert_eq!(order, (0..points.len() as u32).collect::<Vec<_>>(), "the spatial order visits every point once");
        for index in [0, 3, 10, 300, points.len() - 1] {
            let reference = exact(&points, index);
            let at_zero = tree.repulsion(index, 0.0);
            assert!((at_zero.kernel_sum - reference.kernel_sum).abs() < 1e-10 * reference.kernel_sum, "point {index}: {at_zero:?} vs {reference:?}");
            for d in 0..2 {
                assert!((at_zero.force[d] - reference.force[d]).abs() < 1e-10 * (1.0 + reference.force[d].abs()));
            }
            let approximate = tree.repulsion(index, 0.5);
            assert!((approximate.kernel_sum / reference.kernel_sum - 1.0).abs() < 0.02, "point {index}: {approximate:?} vs {reference:?}");
            let norm = (reference.force[0].powi(2) + reference.force[1].powi(2)).sqrt();
            let error = ((approximate.force[0] - reference.force[0]).powi(2) + (approximate.force[1] - reference.force[1]).powi(2)).sqrt();
            assert!(error < 0.05 * norm + 1e-3 * reference.kernel_sum, "point {index}: force {:?} vs {:?}", approximate.force, reference.force);
        }
    }
}
