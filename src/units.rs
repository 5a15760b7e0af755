//! Units of measure (stub: being written).
