//! Small utilities shared across the crate.
pub mod atomic_file;
pub mod memory_budget;
pub mod output_guard;
pub mod rng;

pub use atomic_file::{write_atomically, AtomicFile};
pub use rng::Rng;
