//! Plots: loss/accuracy curves, embedding scatter plots, and the t-SNE that produces the embeddings.
//!
//! Every figure is a PNG rendered in memory by plotters' bitmap backend and written atomically.
//! Text uses DejaVu Sans compiled into the binary ([`font`]), so plotting needs no system font
//! library and looks the same on every machine.
//!
//! - [`curves::plot_loss`], [`curves::plot_accuracy`]: the two Keras-style training figures.
//! - [`scatter::plot_embedding_2d`]: 2-D points coloured by class ("not hateful" / "hateful").
//! - [`tsne::tsne`]: Barnes-Hut t-SNE to 2-D, as sklearn's `TSNE` (docs/tsne.md).
pub mod curves;
pub(crate) mod figure;
pub mod font;
pub mod scatter;
pub mod tsne;

pub use figure::FIGURE_SIZE;
