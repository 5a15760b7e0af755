//! The equation language: lexer, parser and syntax tree. See docs/EQUATIONS.md.
pub mod ast;
mod lexer;
mod parser;

pub use ast::{BinaryOp, Expr, ExprKind, ParseError, Span, Subscript, UnaryOp};
pub use parser::parse;
