//! Reading, checking, preprocessing and packing Hateful Memes datasets.
