//! Tokens of the equation language (stub: being written).
