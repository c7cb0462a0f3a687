//! Small utilities shared across the crate.
pub mod atomic_file;
pub mod inputs;
pub mod rng;

pub use atomic_file::{write_atomically, AtomicFile};
pub use inputs::ensure_not_an_input;
pub use rng::Rng;
