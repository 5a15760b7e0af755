//! Abstract syntax tree of one equation. Produced by [`super::parse`], consumed by the compiler.
//!
//! Spans are byte ranges *within the equation text* (not the file); the loader adds the
//! equation's offset in its file when it reports an error.

/// A byte range `start..end` inside the equation text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Number(f64),
    /// A variable reference, possibly qualified by module (`frailty.severe`), possibly
    /// subscripted (`pop[age]`, `pop["85+"]`, `pop[*]`, `pop["65-74".."85+"]`).
    /// `subscripts` is `None` when there are no brackets at all.
    Var {
        name: String,
        subscripts: Option<Vec<Subscript>>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `IF c THEN a ELSE b` (the function forms `if(c, a, b)` and `if_then_else(c, a, b)`
    /// parse to this too).
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// A function call; `name` is lower-cased for builtins-resolution purposes, and
    /// `name_span` covers the function name. Lookup tables are called this way too
    /// (`effect_of_coverage(x)`), so `name` keeps the original spelling in `raw_name`.
    Call {
        name: String,
        raw_name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Subscript {
    /// A bare identifier (`age`, `fit`) or a quoted element name (`"85+"`). Whether it names a
    /// dimension or an element is decided by the compiler; `quoted` is true for the string form,
    /// which always names an element.
    Name {
        name: String,
        quoted: bool,
        span: Span,
    },
    /// `*`: every element of that dimension (only inside SUM/MEAN/MIN/MAX/PROD...).
    Wildcard { span: Span },
    /// `a..b`: the elements from `a` to `b` inclusive, in declaration order.
    Range {
        from: String,
        to: String,
        span: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }
}

/// A parse error: what went wrong and where in the equation text.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
    /// An actionable suggestion, if there is one ("close the parenthesis opened here").
    pub help: Option<String>,
}
