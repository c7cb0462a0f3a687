//! Training loop, metrics, history and checkpoints.
