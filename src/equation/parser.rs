//! Recursive-descent / precedence-climbing parser (stub: being written).
use super::ast::{Expr, ParseError};

/// Parse one equation.
pub fn parse(_text: &str) -> Result<Expr, ParseError> {
    unimplemented!()
}
