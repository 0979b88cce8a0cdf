//! Bad input corpus.
