//! Plots: loss/accuracy curves, embedding scatter plots.
