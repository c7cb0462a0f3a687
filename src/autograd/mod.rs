//! Reverse-mode automatic differentiation with a tape: forward ops append records, `backward` walks
//! them in reverse. See `tape.rs` for the mechanism and `gradcheck.rs` for how every rule is tested.
mod gradcheck;
mod tape;

pub use gradcheck::{check_gradients, GradCheck};
pub use tape::{backward, clear_tape, is_recording, no_grad, tape_len, Gradients, NoGradGuard};
pub(crate) use tape::record;
