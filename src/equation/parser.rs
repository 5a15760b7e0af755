//! Recursive-descent parser for equations.
//!
//! Grammar, from lowest to highest precedence (keywords and function names are
//! case-insensitive):
//!
//! ```text
//! expr           := or
//! or             := and (("or" | "||") and)*                 left-associative
//! and            := not (("and" | "&&") not)*                left-associative
//! not            := ("not" | "!") not | comparison
//! comparison     := additive (cmp_op additive)?              non-associative
//! cmp_op         := "=" | "==" | "<>" | "!=" | "<" | "<=" | ">" | ">="
//! additive       := multiplicative (("+" | "-") multiplicative)*
//! multiplicative := unary (("*" | "/" | "mod" | "rem") unary)*
//!                   `a mod b` = modulo(a, b) (XMILE), `a rem b` = remainder(a, b)
//! unary          := ("-" | "+") unary | power
//! power          := primary ("^" unary)?                     right-associative
//! primary        := number | variable | call | "(" expr ")" | if_expr
//! if_expr        := "IF" expr "THEN" expr "ELSE" expr
//! call           := name "(" (expr ("," expr)*)? ")"
//! variable       := name ("[" subscript ("," subscript)* "]")?
//! subscript      := "*" | element (".." element)?
//! element        := name | quoted
//! ```
//!
//! The binary-operator levels are implemented by precedence climbing ([`Parser::parse_binary`])
//! rather than one function per level, which keeps the stack use per nesting level small.
//!
//! Notes on the choices made:
//! * `^` binds tighter than a unary minus on its left, and its right operand may carry a sign:
//!   `-2^2` is `-(2^2)`, `2^-1` is `2^(-1)` and `2^3^2` is `2^(3^2)`.
//! * `not` sits between `and` and the comparisons, so `not a and b` is `(not a) and b` and
//!   `not a < b` is `not (a < b)`. Inside arithmetic or comparison operands it must be
//!   parenthesised: `1 + (not a)`.
//! * `IF c THEN a ELSE b` is a primary, so it can appear anywhere a value can, but its ELSE
//!   branch extends as far to the right as possible: `1 + IF c THEN a ELSE b + 2` is
//!   `1 + (IF c THEN a ELSE (b + 2))`. Parenthesise the IF to end it earlier.
//! * `if(c, a, b)` and `if_then_else(c, a, b)` are the function forms. `if (x) THEN ...` is
//!   the keyword form with a parenthesised condition; `if` followed by `(` is read as the
//!   function form when the parentheses contain a top-level `,` or no `THEN` follows them.
//! * A node's span covers all of its operands including any parentheses around them, except
//!   that a parenthesised expression itself keeps the span of what is inside the parentheses.
//! * Nesting is capped (see [`MAX_NESTING`] and [`MAX_TREE_DEPTH`]) so that neither the parser
//!   nor later tree walks can overflow the stack.

use super::ast::{BinaryOp, Expr, ExprKind, ParseError, Span, Subscript, UnaryOp};
use super::lexer::{self, Token, TokenKind, tokenize};

/// Maximum nesting of parentheses, calls, IFs, prefix operators and powers.
const MAX_NESTING: usize = 200;

/// Maximum depth of the resulting syntax tree, counting every operator of a long chain such as
/// `a + b + c + ...` as one level.
const MAX_TREE_DEPTH: usize = 1000;

/// Longest token text quoted verbatim in an error message.
const MAX_QUOTED_TOKEN: usize = 40;

/// Errors are boxed inside the parser so that results stay small: the recursion then needs
/// much less stack per nesting level.
type PResult<T> = Result<T, Box<ParseError>>;

/// Build a boxed [`ParseError`].
fn error(message: impl Into<String>, span: Span, help: Option<String>) -> Box<ParseError> {
    Box::new(lexer::error(message, span, help))
}

/// Parse one equation.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(text)?;
    if tokens[0].kind == TokenKind::Eof {
        return Err(*error(
            "the equation is empty; write a number or an expression",
            Span::new(0, text.len()),
            None,
        ));
    }
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
        nesting: 0,
        tree_depth: 0,
    };
    let parsed = parser.parse_expr().map_err(|e| *e)?;
    parser.expect_end().map_err(|e| *e)?;
    Ok(*parsed.expr)
}

/// A parsed expression together with its extent including any enclosing parentheses. The
/// expression is boxed because the syntax tree boxes children anyway, and a small result type
/// keeps the parser's stack frames small.
struct Parsed {
    expr: Box<Expr>,
    outer: Span,
}

impl Parsed {
    fn new(kind: ExprKind, span: Span) -> Self {
        Parsed {
            expr: Box::new(Expr { kind, span }),
            outer: span,
        }
    }
}

fn binary(op: BinaryOp, lhs: Parsed, rhs: Parsed) -> Parsed {
    let span = lhs.outer.to(rhs.outer);
    Parsed::new(
        ExprKind::Binary {
            op,
            lhs: lhs.expr,
            rhs: rhs.expr,
        },
        span,
    )
}

/// An infix operator: one of the AST's binary operators, or a word parsed as a call of the
/// named builtin (`mod`, `rem`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Infix {
    Op(BinaryOp),
    Call(&'static str),
}

/// `a mod b` as the call `modulo(a, b)`.
fn infix_call(f: &str, op_span: Span, lhs: Parsed, rhs: Parsed) -> Parsed {
    let span = lhs.outer.to(rhs.outer);
    Parsed::new(
        ExprKind::Call {
            name: f.into(),
            raw_name: f.into(),
            name_span: op_span,
            args: vec![*lhs.expr, *rhs.expr],
        },
        span,
    )
}

fn unary(op: UnaryOp, op_span: Span, operand: Parsed) -> Parsed {
    let span = op_span.to(operand.outer);
    Parsed::new(
        ExprKind::Unary {
            op,
            operand: operand.expr,
        },
        span,
    )
}

fn if_expr(cond: Box<Expr>, then: Box<Expr>, otherwise: Box<Expr>, span: Span) -> Parsed {
    Parsed::new(
        ExprKind::If {
            cond,
            then,
            otherwise,
        },
        span,
    )
}

/// Precedence levels, loosest first; a higher number binds tighter.
mod prec {
    pub const OR: u8 = 1;
    pub const AND: u8 = 2;
    /// Prefix `not`: its operand may contain comparisons but not `and`/`or`.
    pub const NOT: u8 = 3;
    pub const COMPARISON: u8 = 4;
    pub const ADDITIVE: u8 = 5;
    pub const MULTIPLICATIVE: u8 = 6;
    // Prefix `-`/`+` sit between these two: looser than `^`, tighter than `*`.
    pub const POWER: u8 = 7;
}

/// The binary operator a token stands for, and its precedence.
fn infix_op(kind: &TokenKind) -> Option<(BinaryOp, u8)> {
    use TokenKind as T;
    let op = match kind {
        T::Or => (BinaryOp::Or, prec::OR),
        T::And => (BinaryOp::And, prec::AND),
        T::Eq => (BinaryOp::Eq, prec::COMPARISON),
        T::Ne => (BinaryOp::Ne, prec::COMPARISON),
        T::Lt => (BinaryOp::Lt, prec::COMPARISON),
        T::Le => (BinaryOp::Le, prec::COMPARISON),
        T::Gt => (BinaryOp::Gt, prec::COMPARISON),
        T::Ge => (BinaryOp::Ge, prec::COMPARISON),
        T::Plus => (BinaryOp::Add, prec::ADDITIVE),
        T::Minus => (BinaryOp::Sub, prec::ADDITIVE),
        T::Star => (BinaryOp::Mul, prec::MULTIPLICATIVE),
        T::Slash => (BinaryOp::Div, prec::MULTIPLICATIVE),
        T::Caret => (BinaryOp::Pow, prec::POWER),
        _ => return None,
    };
    Some(op)
}

/// Whether a token can begin a value (used to tailor error help).
fn starts_value(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Number(_)
            | TokenKind::Ident
            | TokenKind::Str(_)
            | TokenKind::If
            | TokenKind::Not
            | TokenKind::LParen
    )
}

fn too_deep(span: Span) -> Box<ParseError> {
    error(
        "expression nested too deeply",
        span,
        Some("simplify it by moving parts into auxiliary variables".into()),
    )
}

struct Parser<'a> {
    text: &'a str,
    /// Always ends with exactly one `Eof` token.
    tokens: Vec<Token>,
    /// Index of the next unread token; never past the `Eof`.
    pos: usize,
    /// Current recursion nesting (see [`MAX_NESTING`]).
    nesting: usize,
    /// Upper bound on the tree depth above the node being parsed (see [`MAX_TREE_DEPTH`]).
    tree_depth: usize,
}

impl Parser<'_> {
    // ----- token helpers -------------------------------------------------------------------

    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.peek().kind
    }

    /// Consume and return the next token (the `Eof` token is never consumed).
    fn advance(&mut self) -> Token {
        let token = self.tokens[self.pos].clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    /// The most recently consumed token, if any.
    fn previous(&self) -> Option<&Token> {
        self.pos.checked_sub(1).map(|i| &self.tokens[i])
    }

    fn slice(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    /// A token as it appears in error messages: "`)`", "the end of the equation".
    fn describe(&self, token: &Token) -> String {
        if token.kind == TokenKind::Eof {
            return "the end of the equation".into();
        }
        let text = self.slice(token.span);
        match text.char_indices().nth(MAX_QUOTED_TOKEN) {
            Some((cut, _)) => format!("`{}...`", &text[..cut]),
            None => format!("`{text}`"),
        }
    }

    // ----- depth limits --------------------------------------------------------------------

    /// Run `f` one nesting level deeper, failing at `at` if that is too deep.
    fn nested<T>(&mut self, at: Span, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.nesting >= MAX_NESTING || self.tree_depth >= MAX_TREE_DEPTH {
            return Err(too_deep(at));
        }
        self.nesting += 1;
        self.tree_depth += 1;
        let result = f(self);
        self.nesting -= 1;
        self.tree_depth -= 1;
        result
    }

    /// Account for one more operator in a chain; the caller restores `tree_depth` afterwards.
    fn deepen(&mut self, at: Span) -> PResult<()> {
        if self.tree_depth >= MAX_TREE_DEPTH {
            return Err(too_deep(at));
        }
        self.tree_depth += 1;
        Ok(())
    }

    /// The infix operator at the current token: a symbol or keyword, or the word `mod`
    /// (XMILE's infix modulo) or `rem`, which are operators only where an operand has just
    /// ended (elsewhere they are ordinary names).
    fn infix_here(&self) -> Option<(Infix, u8)> {
        let token = self.peek();
        if token.kind == TokenKind::Ident {
            let word = self.slice(token.span);
            for (w, f) in [("mod", "modulo"), ("rem", "remainder")] {
                if word.eq_ignore_ascii_case(w) {
                    return Some((Infix::Call(f), prec::MULTIPLICATIVE));
                }
            }
        }
        infix_op(&token.kind).map(|(op, level)| (Infix::Op(op), level))
    }

    // ----- expressions ---------------------------------------------------------------------
    //
    // Binary operators use precedence climbing rather than one function per level: it keeps
    // the number of stack frames per nesting level small, which matters for the nesting cap.

    /// A whole expression (lowest precedence).
    fn parse_expr(&mut self) -> PResult<Parsed> {
        self.parse_binary(prec::OR)
    }

    /// An expression whose binary operators all bind at least as tightly as `min`.
    fn parse_binary(&mut self, min: u8) -> PResult<Parsed> {
        let saved_depth = self.tree_depth;
        let mut lhs = self.parse_prefix(min)?;
        let mut after_comparison = false;
        while let Some((op, level)) = self.infix_here() {
            if level < min {
                break;
            }
            if level == prec::COMPARISON && after_comparison {
                return Err(self.chained_comparison());
            }
            let op_token = self.advance();
            self.deepen(op_token.span)?;
            let rhs = if op == Infix::Op(BinaryOp::Pow) {
                // Right-associative, and the exponent may carry a sign: `2^-1`, `2^3^2`.
                self.nested(op_token.span, |p| p.parse_binary(prec::POWER))?
            } else {
                self.parse_binary(level + 1)?
            };
            lhs = match op {
                Infix::Op(op) => binary(op, lhs, rhs),
                Infix::Call(f) => infix_call(f, op_token.span, lhs, rhs),
            };
            after_comparison = level == prec::COMPARISON;
        }
        self.tree_depth = saved_depth;
        Ok(lhs)
    }

    /// A prefix operator and its operand, or a primary. `min` is the precedence of the
    /// surrounding context: `not` is only allowed where an `and` operand may start.
    fn parse_prefix(&mut self, min: u8) -> PResult<Parsed> {
        let (op, operand_min) = match self.peek_kind() {
            // The operand of a sign stops before `*`, `/`, ... but takes `^`: `-2^2` = -(2^2).
            TokenKind::Minus => (UnaryOp::Neg, prec::POWER),
            TokenKind::Plus => (UnaryOp::Plus, prec::POWER),
            TokenKind::Not if min <= prec::NOT => (UnaryOp::Not, prec::NOT),
            TokenKind::Not => return Err(self.not_needs_parentheses()),
            _ => return self.parse_primary(),
        };
        let op_token = self.advance();
        let operand = self.nested(op_token.span, |p| p.parse_binary(operand_min))?;
        Ok(unary(op, op_token.span, operand))
    }

    /// A number, variable, call, parenthesised expression or IF.
    fn parse_primary(&mut self) -> PResult<Parsed> {
        let token = self.peek();
        match token.kind {
            TokenKind::Number(value) => {
                let span = self.advance().span;
                Ok(Parsed::new(ExprKind::Number(value), span))
            }
            TokenKind::Ident => self.parse_name(),
            TokenKind::If => self.parse_if(),
            TokenKind::LParen => self.parse_group(),
            _ => Err(self.expected_value()),
        }
    }

    /// `( expr )`.
    fn parse_group(&mut self) -> PResult<Parsed> {
        let open = self.advance();
        let inner = self.nested(open.span, Self::parse_expr)?;
        if *self.peek_kind() != TokenKind::RParen {
            return Err(self.unclosed_group(open.span));
        }
        let close = self.advance();
        Ok(Parsed {
            expr: inner.expr,
            outer: open.span.to(close.span),
        })
    }

    // ----- expression errors (kept out of the recursive functions to keep their frames small)

    /// `a < b < c`, with the second comparison operator at the cursor.
    fn chained_comparison(&self) -> Box<ParseError> {
        let second = self.peek();
        error(
            format!(
                "comparisons cannot be chained: {} follows another comparison",
                self.describe(second)
            ),
            second.span,
            Some("combine comparisons with `and`, e.g. `a < b and b < c`".into()),
        )
    }

    /// `not` inside arithmetic or a comparison operand (`1 + not a`).
    fn not_needs_parentheses(&self) -> Box<ParseError> {
        let token = self.peek();
        error(
            format!(
                "{} must be wrapped in parentheses here",
                self.describe(token)
            ),
            token.span,
            Some("write `(not ...)` when negating inside arithmetic or a comparison".into()),
        )
    }

    /// The error for a token at the cursor that cannot begin a value.
    fn expected_value(&self) -> Box<ParseError> {
        let found = self.peek();
        if let TokenKind::Str(_) = found.kind {
            return error(
                format!(
                    "quoted names like {} can only be used inside subscript brackets",
                    self.describe(found)
                ),
                found.span,
                Some(
                    "write variable names without quotes; quote element names inside `[...]`"
                        .into(),
                ),
            );
        }
        let Some(previous) = self.previous() else {
            return error(
                format!("expected a value, found {}", self.describe(found)),
                found.span,
                None,
            );
        };
        let after = format!("expected a value after {}", self.describe(previous));
        let help = (previous.kind == TokenKind::Comma && found.kind == TokenKind::RParen)
            .then(|| "remove the extra `,`".to_string());
        if found.kind == TokenKind::Eof {
            error(after, previous.span, help)
        } else {
            error(
                format!("{after}, found {}", self.describe(found)),
                found.span,
                help,
            )
        }
    }

    /// A `(` opened at `open` that is not followed by `)` where expected.
    fn unclosed_group(&self, open: Span) -> Box<ParseError> {
        let found = self.peek();
        if found.kind == TokenKind::Eof {
            return error("unclosed parenthesis", open, Some("add `)`".into()));
        }
        let help = if starts_value(&found.kind) {
            "put an operator (such as `*` or `+`) between the two values"
        } else {
            "add `)` to close the parenthesis"
        };
        error(
            format!(
                "expected `)` to close the parenthesis, found {}",
                self.describe(found)
            ),
            found.span,
            Some(help.into()),
        )
    }

    // ----- names: variables and calls ------------------------------------------------------

    /// A variable (with optional subscripts) or a function call.
    fn parse_name(&mut self) -> PResult<Parsed> {
        let name_token = self.advance();
        let name = self.slice(name_token.span).to_string();
        match self.peek_kind() {
            TokenKind::LParen => self.parse_call(name_token, name),
            TokenKind::LBracket => {
                let (subscripts, close) = self.parse_subscripts()?;
                let kind = ExprKind::Var {
                    name,
                    subscripts: Some(subscripts),
                };
                Ok(Parsed::new(kind, name_token.span.to(close)))
            }
            _ => Ok(Parsed::new(
                ExprKind::Var {
                    name,
                    subscripts: None,
                },
                name_token.span,
            )),
        }
    }

    /// `name(args)`; `if_then_else(...)` becomes an IF.
    fn parse_call(&mut self, name_token: Token, raw_name: String) -> PResult<Parsed> {
        if raw_name.contains('.') {
            return Err(qualified_call(&raw_name, name_token.span));
        }
        let (args, close) = self.parse_args(&raw_name)?;
        let span = name_token.span.to(close);
        let name = raw_name.to_ascii_lowercase();
        if name == "if_then_else" {
            return if_call(&raw_name, args, span);
        }
        let kind = ExprKind::Call {
            name,
            raw_name,
            name_span: name_token.span,
            args,
        };
        Ok(Parsed::new(kind, span))
    }

    /// `( expr, ... )` after a function name; returns the arguments and the span of `)`.
    fn parse_args(&mut self, function: &str) -> PResult<(Vec<Expr>, Span)> {
        let open = self.advance();
        self.nested(open.span, |p| {
            let mut args = Vec::new();
            if *p.peek_kind() == TokenKind::RParen {
                return Ok((args, p.advance().span));
            }
            loop {
                args.push(*p.parse_expr()?.expr);
                match p.peek_kind() {
                    TokenKind::Comma => {
                        p.advance();
                    }
                    TokenKind::RParen => return Ok((args, p.advance().span)),
                    _ => return Err(p.unfinished_args(function, open.span)),
                }
            }
        })
    }

    /// The error when an argument of `function` (whose `(` is at `open`) is followed by
    /// something other than `,` or `)`.
    fn unfinished_args(&self, function: &str, open: Span) -> Box<ParseError> {
        let found = self.peek();
        if found.kind == TokenKind::Eof {
            return error(
                format!("unclosed parenthesis in the call to `{function}`"),
                open,
                Some("add `)`".into()),
            );
        }
        let help = starts_value(&found.kind)
            .then(|| "separate arguments with `,` or join values with an operator".to_string());
        error(
            format!(
                "expected `,` or `)` in the call to `{function}`, found {}",
                self.describe(found)
            ),
            found.span,
            help,
        )
    }

    // ----- IF ------------------------------------------------------------------------------

    /// `IF c THEN a ELSE b` or the function form `if(c, a, b)`.
    fn parse_if(&mut self) -> PResult<Parsed> {
        let is_call = self.tokens.get(self.pos + 1).map(|t| &t.kind) == Some(&TokenKind::LParen)
            && self.if_is_call_form();
        if !is_call {
            return self.parse_if_then_else();
        }
        let if_token = self.advance();
        let raw_name = self.slice(if_token.span).to_string();
        let (args, close) = self.parse_args(&raw_name)?;
        if_call(&raw_name, args, if_token.span.to(close))
    }

    /// With `if` at the cursor followed by `(`: is this the function form? It is when the
    /// parentheses hold a top-level `,`, or when no `THEN` belonging to this IF follows them
    /// before the enclosing group, argument or equation ends.
    fn if_is_call_form(&self) -> bool {
        let mut depth = 0usize;
        let mut i = self.pos + 1;
        // The parenthesised group right after `if`.
        loop {
            match self.tokens[i].kind {
                TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RParen | TokenKind::RBracket => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                TokenKind::Comma if depth == 1 => return true,
                TokenKind::Eof => return true,
                _ => {}
            }
            i += 1;
        }
        // What follows: look for this IF's THEN, skipping nested groups and inner IFs.
        let mut inner_ifs = 0usize;
        for token in &self.tokens[i + 1..] {
            match token.kind {
                TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RParen | TokenKind::RBracket | TokenKind::Comma if depth == 0 => {
                    return true;
                }
                TokenKind::RParen | TokenKind::RBracket => depth -= 1,
                TokenKind::If if depth == 0 => inner_ifs += 1,
                TokenKind::Then if depth == 0 => match inner_ifs.checked_sub(1) {
                    Some(rest) => inner_ifs = rest,
                    None => return false,
                },
                _ => {}
            }
        }
        true
    }

    /// The keyword form; the ELSE branch extends as far right as possible.
    fn parse_if_then_else(&mut self) -> PResult<Parsed> {
        let if_token = self.advance();
        self.nested(if_token.span, |p| {
            let cond = p.parse_expr()?;
            if *p.peek_kind() != TokenKind::Then {
                let found = p.peek();
                let span = if found.kind == TokenKind::Eof {
                    if_token.span.to(cond.outer)
                } else {
                    found.span
                };
                return Err(error(
                    format!(
                        "expected `THEN` after the IF condition, found {}",
                        p.describe(found)
                    ),
                    span,
                    Some("write `IF condition THEN value ELSE other_value`".into()),
                ));
            }
            p.advance();
            let then = p.parse_expr()?;
            if *p.peek_kind() != TokenKind::Else {
                let found = p.peek();
                let (message, span) = if found.kind == TokenKind::Eof {
                    (
                        "this IF has no ELSE branch".to_string(),
                        if_token.span.to(then.outer),
                    )
                } else {
                    (
                        format!(
                            "expected `ELSE` after the THEN branch, found {}",
                            p.describe(found)
                        ),
                        found.span,
                    )
                };
                return Err(error(
                    message,
                    span,
                    Some("every IF needs an ELSE branch".into()),
                ));
            }
            p.advance();
            let otherwise = p.parse_expr()?;
            let span = if_token.span.to(otherwise.outer);
            Ok(if_expr(cond.expr, then.expr, otherwise.expr, span))
        })
    }

    // ----- subscripts ----------------------------------------------------------------------

    /// `[ subscript, ... ]` after a variable name; returns the subscripts and the span of `]`.
    fn parse_subscripts(&mut self) -> PResult<(Vec<Subscript>, Span)> {
        let open = self.advance();
        if *self.peek_kind() == TokenKind::RBracket {
            let close = self.advance();
            return Err(error(
                "empty subscript brackets `[]`",
                open.span.to(close.span),
                Some("name a dimension or element inside the brackets (e.g. `[age]`), or remove them".into()),
            ));
        }
        let mut subscripts = Vec::new();
        loop {
            subscripts.push(self.parse_subscript()?);
            match self.peek_kind() {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RBracket => return Ok((subscripts, self.advance().span)),
                TokenKind::Eof => {
                    return Err(error("unclosed `[`", open.span, Some("add `]`".into())));
                }
                _ => {
                    let found = self.peek();
                    return Err(error(
                        format!(
                            "expected `,` or `]` in the subscripts, found {}",
                            self.describe(found)
                        ),
                        found.span,
                        Some("separate subscripts with `,` and close them with `]`".into()),
                    ));
                }
            }
        }
    }

    /// One subscript: `*`, an element or dimension name, or a range `a..b`.
    fn parse_subscript(&mut self) -> PResult<Subscript> {
        if *self.peek_kind() == TokenKind::Star {
            return Ok(Subscript::Wildcard {
                span: self.advance().span,
            });
        }
        let (from, quoted, from_span) = self.parse_element()?;
        if *self.peek_kind() != TokenKind::DotDot {
            return Ok(Subscript::Name {
                name: from,
                quoted,
                span: from_span,
            });
        }
        self.advance();
        let (to, _, to_span) = self.parse_element()?;
        Ok(Subscript::Range {
            from,
            to,
            span: from_span.to(to_span),
        })
    }

    /// A bare or quoted name inside subscript brackets: (name, quoted, span).
    fn parse_element(&mut self) -> PResult<(String, bool, Span)> {
        let token = self.peek().clone();
        match &token.kind {
            TokenKind::Str(name) if name.is_empty() => Err(error(
                "empty quoted element name",
                token.span,
                Some("write the element's name between the quotes".into()),
            )),
            TokenKind::Str(name) => {
                self.advance();
                Ok((name.clone(), true, token.span))
            }
            TokenKind::Ident => {
                let name = self.slice(token.span);
                if name.contains('.') {
                    return Err(error(
                        format!("subscript names cannot be module-qualified: `{name}`"),
                        token.span,
                        Some("write the dimension or element name on its own, or quote it".into()),
                    ));
                }
                let name = name.to_string();
                self.advance();
                Ok((name, false, token.span))
            }
            _ => Err(self.expected_element(&token)),
        }
    }

    /// The error for a token that is not a dimension or element name.
    fn expected_element(&self, found: &Token) -> Box<ParseError> {
        let context = match self.previous().map(|t| &t.kind) {
            Some(TokenKind::DotDot) => "after `..`",
            _ => "in the subscripts",
        };
        let help = match found.kind {
            TokenKind::Eof => None,
            TokenKind::Star if context == "after `..`" => {
                Some("a range needs two element names; use `*` on its own for every element".into())
            }
            _ => Some(format!(
                "quote element names that are not plain names: `\"{}\"`",
                self.slice(found.span).replace('"', "")
            )),
        };
        let span = if found.kind == TokenKind::Eof {
            self.previous().map_or(found.span, |t| t.span)
        } else {
            found.span
        };
        error(
            format!(
                "expected a dimension or element name {context}, found {}",
                self.describe(found)
            ),
            span,
            help,
        )
    }

    // ----- end -----------------------------------------------------------------------------

    /// Fail if anything is left after a complete expression.
    fn expect_end(&self) -> PResult<()> {
        let token = self.peek();
        let help = match token.kind {
            TokenKind::Eof => return Ok(()),
            TokenKind::RParen => "remove it, or add the matching `(` before it",
            TokenKind::RBracket => "remove it; `]` only closes subscripts after a variable name",
            TokenKind::LBracket => "subscripts go directly after a variable name",
            TokenKind::Then | TokenKind::Else => "THEN and ELSE must belong to an `IF`",
            TokenKind::Comma => "`,` only separates function arguments and subscripts",
            ref kind if starts_value(kind) => {
                "put an operator (such as `*` or `+`) between the two values"
            }
            _ => "remove it, or complete the expression",
        };
        Err(error(
            format!(
                "unexpected {} after a complete expression",
                self.describe(token)
            ),
            token.span,
            Some(help.into()),
        ))
    }
}

/// The error for a call through a module-qualified name (`frailty.effect(x)`).
fn qualified_call(raw_name: &str, span: Span) -> Box<ParseError> {
    let (module, function) = raw_name.rsplit_once('.').unwrap_or(("", raw_name));
    error(
        format!(
            "module-qualified lookups like `{raw_name}(...)` are not supported; bind the lookup through an auxiliary"
        ),
        span,
        Some(format!(
            "define an auxiliary in module `{module}` that calls `{function}(...)`, and refer to that auxiliary"
        )),
    )
}

/// Build an IF from the function form, which needs exactly three arguments.
fn if_call(raw_name: &str, args: Vec<Expr>, span: Span) -> PResult<Parsed> {
    let count = args.len();
    let Ok([cond, then, otherwise]) = <[Expr; 3]>::try_from(args) else {
        let given = match count {
            1 => "1 was given".to_string(),
            n => format!("{n} were given"),
        };
        return Err(error(
            format!(
                "`{raw_name}` takes 3 arguments (condition, value if true, value if false), but {given}"
            ),
            span,
            Some(format!(
                "write `{raw_name}(condition, value_if_true, value_if_false)`"
            )),
        ));
    };
    Ok(if_expr(
        Box::new(cond),
        Box::new(then),
        Box::new(otherwise),
        span,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of `text`, for failure messages about long generated inputs.
    fn short(text: &str) -> String {
        text.chars().take(60).collect()
    }

    /// Parse, panicking with the error on failure.
    fn p(text: &str) -> Expr {
        parse(text).unwrap_or_else(|e| panic!("parse({:?}) failed: {e:?}", short(text)))
    }

    /// Parse, expecting an error.
    fn err(text: &str) -> ParseError {
        match parse(text) {
            Ok(expr) => panic!(
                "parse({:?}) unexpectedly succeeded: {}",
                short(text),
                sexpr(&expr)
            ),
            Err(e) => e,
        }
    }

    /// Assert that `text` fails with a message containing `message` at `start..end`.
    fn assert_err(text: &str, message: &str, start: usize, end: usize) -> ParseError {
        let e = err(text);
        assert!(
            e.message.contains(message),
            "{:?}: message {:?} lacks {message:?}",
            short(text),
            e.message
        );
        assert_eq!(
            e.span,
            Span::new(start, end),
            "{:?}: wrong span for {:?}",
            short(text),
            e.message
        );
        e
    }

    fn help(e: &ParseError) -> &str {
        e.help.as_deref().unwrap_or("")
    }

    /// A compact S-expression rendering, for precedence tests.
    fn sexpr(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(v) => format!("{v}"),
            ExprKind::Var {
                name,
                subscripts: None,
            } => name.clone(),
            ExprKind::Var {
                name,
                subscripts: Some(subs),
            } => {
                let subs: Vec<String> = subs.iter().map(subscript).collect();
                format!("{name}[{}]", subs.join(","))
            }
            ExprKind::Unary { op, operand } => {
                let op = match op {
                    UnaryOp::Neg => "neg",
                    UnaryOp::Plus => "pos",
                    UnaryOp::Not => "not",
                };
                format!("({op} {})", sexpr(operand))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                format!("({} {} {})", op.symbol(), sexpr(lhs), sexpr(rhs))
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                format!("(if {} {} {})", sexpr(cond), sexpr(then), sexpr(otherwise))
            }
            ExprKind::Call { name, args, .. } => {
                let args: Vec<String> = args.iter().map(sexpr).collect();
                format!(
                    "({name}{})",
                    args.iter().map(|a| format!(" {a}")).collect::<String>()
                )
            }
        }
    }

    fn subscript(s: &Subscript) -> String {
        match s {
            Subscript::Name {
                name, quoted: true, ..
            } => format!("{name:?}"),
            Subscript::Name {
                name,
                quoted: false,
                ..
            } => name.clone(),
            Subscript::Wildcard { .. } => "*".into(),
            Subscript::Range { from, to, .. } => format!("{from}..{to}"),
        }
    }

    fn s(text: &str) -> String {
        sexpr(&p(text))
    }

    // ----- precedence and associativity ----------------------------------------------------

    #[test]
    fn arithmetic_precedence() {
        assert_eq!(s("1+2*3"), "(+ 1 (* 2 3))");
        assert_eq!(s("1*2+3"), "(+ (* 1 2) 3)");
        assert_eq!(s("(1+2)*3"), "(* (+ 1 2) 3)");
        assert_eq!(s("a - b - c"), "(- (- a b) c)");
        assert_eq!(s("a / b * c"), "(* (/ a b) c)");
        assert_eq!(s("a / b / c"), "(/ (/ a b) c)");
        assert_eq!(s("a - (b - c)"), "(- a (- b c))");
    }

    #[test]
    fn power_is_right_associative_and_binds_tighter_than_unary_minus() {
        assert_eq!(s("2^3^2"), "(^ 2 (^ 3 2))");
        assert_eq!(s("-2^2"), "(neg (^ 2 2))");
        assert_eq!(s("2^-1"), "(^ 2 (neg 1))");
        assert_eq!(s("2^-3^2"), "(^ 2 (neg (^ 3 2)))");
        assert_eq!(s("a*b^c"), "(* a (^ b c))");
        assert_eq!(s("(-2)^2"), "(^ (neg 2) 2)");
        assert_eq!(s("-a*b"), "(* (neg a) b)");
        assert_eq!(s("a*-b"), "(* a (neg b))");
        assert_eq!(s("--a"), "(neg (neg a))");
        assert_eq!(s("+a - -b"), "(- (pos a) (neg b))");
        assert_eq!(s("2^-1*3"), "(* (^ 2 (neg 1)) 3)");
        assert_eq!(s("a^b*c"), "(* (^ a b) c)");
        assert_eq!(s("-a^-b"), "(neg (^ a (neg b)))");
        assert_eq!(s("a^b^c*d"), "(* (^ a (^ b c)) d)");
    }

    #[test]
    fn logical_precedence() {
        assert_eq!(s("not a and b"), "(and (not a) b)");
        assert_eq!(s("a or b and c"), "(or a (and b c))");
        assert_eq!(s("a and b or c"), "(or (and a b) c)");
        assert_eq!(s("a or b or c"), "(or (or a b) c)");
        assert_eq!(s("!a && b || c"), "(or (and (not a) b) c)");
        assert_eq!(s("not not a"), "(not (not a))");
        assert_eq!(s("not a < b"), "(not (< a b))");
        assert_eq!(s("a AND b Or NOT c"), "(or (and a b) (not c))");
        assert_eq!(s("1 + (not a)"), "(+ 1 (not a))");
    }

    #[test]
    fn comparisons() {
        assert_eq!(s("a + b < c * d"), "(< (+ a b) (* c d))");
        assert_eq!(s("a = b"), "(= a b)");
        assert_eq!(s("a == b"), "(= a b)");
        assert_eq!(s("a <> b"), "(<> a b)");
        assert_eq!(s("a != b"), "(<> a b)");
        assert_eq!(s("a<=b"), "(<= a b)");
        assert_eq!(s("a>=b"), "(>= a b)");
        assert_eq!(s("a<b"), "(< a b)");
        assert_eq!(s("a>b"), "(> a b)");
        assert_eq!(s("a<-1"), "(< a (neg 1))");
        assert_eq!(s("a < b and b < c"), "(and (< a b) (< b c))");
        assert_eq!(s("(a < b) = c"), "(= (< a b) c)");
    }

    // ----- atoms ---------------------------------------------------------------------------

    #[test]
    fn numbers() {
        let number = |text: &str| match p(text).kind {
            ExprKind::Number(v) => v,
            other => panic!("{text}: not a number: {other:?}"),
        };
        assert_eq!(number("12"), 12.0);
        assert_eq!(number("1.5"), 1.5);
        assert_eq!(number(".5"), 0.5);
        assert_eq!(number("1e-3"), 1e-3);
        assert_eq!(number("2.5E+4"), 2.5e4);
        assert_eq!(number("3e2"), 300.0);
        assert_eq!(number("1."), 1.0);
        assert_eq!(number("0"), 0.0);
        assert_eq!(number("  7\n"), 7.0);
        assert_eq!(p(" 42 ").span, Span::new(1, 3));
    }

    #[test]
    fn identifiers() {
        let var = |text: &str| match p(text).kind {
            ExprKind::Var {
                name,
                subscripts: None,
            } => name,
            other => panic!("{text}: not a plain var: {other:?}"),
        };
        assert_eq!(var("frailty.severe_count"), "frailty.severe_count");
        assert_eq!(var("a.b.c"), "a.b.c");
        assert_eq!(var("_x1"), "_x1");
        assert_eq!(var("Population"), "Population");
        assert_eq!(var("time"), "time");
        assert_eq!(var("TIME"), "TIME");
        assert_eq!(var("dt"), "dt");
        assert_eq!(var("iffy"), "iffy");
        assert_eq!(var("notable"), "notable");
        assert_eq!(var("module.if"), "module.if");
        assert_eq!(p("frailty.severe_count").span, Span::new(0, 20));
    }

    // ----- subscripts ----------------------------------------------------------------------

    fn subscripts(text: &str) -> Vec<Subscript> {
        match p(text).kind {
            ExprKind::Var {
                subscripts: Some(subs),
                ..
            } => subs,
            other => panic!("{text}: not a subscripted var: {other:?}"),
        }
    }

    fn name(name: &str, quoted: bool, start: usize, end: usize) -> Subscript {
        Subscript::Name {
            name: name.into(),
            quoted,
            span: Span::new(start, end),
        }
    }

    #[test]
    fn subscript_forms() {
        assert_eq!(subscripts("pop[age]"), vec![name("age", false, 4, 7)]);
        assert_eq!(
            subscripts("pop[age, frailty]"),
            vec![name("age", false, 4, 7), name("frailty", false, 9, 16)]
        );
        assert_eq!(subscripts("pop[\"85+\"]"), vec![name("85+", true, 4, 9)]);
        assert_eq!(subscripts("pop['85+']"), vec![name("85+", true, 4, 9)]);
        assert_eq!(subscripts("pop[fit]"), vec![name("fit", false, 4, 7)]);
        assert_eq!(
            subscripts("pop[*]"),
            vec![Subscript::Wildcard {
                span: Span::new(4, 5)
            }]
        );
        assert_eq!(
            subscripts("pop[\"65-74\"..\"85+\"]"),
            vec![Subscript::Range {
                from: "65-74".into(),
                to: "85+".into(),
                span: Span::new(4, 18)
            }]
        );
        assert_eq!(
            subscripts("pop[a..b]"),
            vec![Subscript::Range {
                from: "a".into(),
                to: "b".into(),
                span: Span::new(4, 8)
            }]
        );
        assert_eq!(
            subscripts("pop[a .. '85+']"),
            vec![Subscript::Range {
                from: "a".into(),
                to: "85+".into(),
                span: Span::new(4, 14)
            }]
        );
        assert_eq!(
            subscripts("m[age, *]"),
            vec![
                name("age", false, 2, 5),
                Subscript::Wildcard {
                    span: Span::new(7, 8)
                }
            ]
        );
        assert_eq!(
            s("frailty.pop[\"a b\", x..y, *]"),
            "frailty.pop[\"a b\",x..y,*]"
        );
    }

    #[test]
    fn var_span_covers_subscripts() {
        let e = p("x + pop [ age ] * 2");
        let ExprKind::Binary { rhs, .. } = e.kind else {
            panic!()
        };
        let ExprKind::Binary { lhs, .. } = rhs.kind else {
            panic!()
        };
        assert_eq!(lhs.span, Span::new(4, 15));
        assert_eq!(
            p("pop").kind,
            ExprKind::Var {
                name: "pop".into(),
                subscripts: None
            }
        );
    }

    // ----- calls ---------------------------------------------------------------------------

    #[test]
    fn infix_mod() {
        assert_eq!(sexpr(&p("a + b mod 3 * c")), "(+ a (* (modulo b 3) c))");
        assert_eq!(sexpr(&p("x MOD 2")), "(modulo x 2)");
        assert_eq!(sexpr(&p("x rem 2 + 1")), "(+ (remainder x 2) 1)");
        // `mod` where an operand is expected is an ordinary name.
        assert_eq!(sexpr(&p("mod + 1")), "(+ mod 1)");
    }

    #[test]
    fn calls() {
        let e = p("MAX(a, b * 2)");
        assert_eq!(e.span, Span::new(0, 13));
        let ExprKind::Call {
            name,
            raw_name,
            name_span,
            args,
        } = e.kind
        else {
            panic!()
        };
        assert_eq!(name, "max");
        assert_eq!(raw_name, "MAX");
        assert_eq!(name_span, Span::new(0, 3));
        assert_eq!(args.len(), 2);
        assert_eq!(args[1].span, Span::new(7, 12));

        assert_eq!(s("foo()"), "(foo)");
        assert_eq!(s("Effect_Of_Coverage(x)"), "(effect_of_coverage x)");
        assert_eq!(
            s("min(max(a, b), sum(pop[*]))"),
            "(min (max a b) (sum pop[*]))"
        );
        assert_eq!(s("f (x)"), "(f x)");
        assert_eq!(s("time + dt"), "(+ time dt)");
        assert_eq!(s("2 * f(x)^2"), "(* 2 (^ (f x) 2))");
    }

    #[test]
    fn if_function_forms() {
        assert_eq!(s("if(a > 1, b, c)"), "(if (> a 1) b c)");
        assert_eq!(s("IF(a, b, c)"), "(if a b c)");
        assert_eq!(s("If_Then_Else(a, b, c)"), "(if a b c)");
        assert_eq!(s("if_then_else(a, b, c) + 1"), "(+ (if a b c) 1)");
        assert_eq!(s("if(a, if(b, 1, 2), 3)"), "(if a (if b 1 2) 3)");
        assert_eq!(p("if(a, b, c)").span, Span::new(0, 11));
        assert_eq!(p("x*IF_THEN_ELSE(a, b, c)").span, Span::new(0, 23));
    }

    #[test]
    fn if_function_arity() {
        let e = assert_err("if(a, b)", "takes 3 arguments", 0, 8);
        assert!(e.message.contains("2 were given"), "{}", e.message);
        let e = assert_err("IF_THEN_ELSE(a, b, c, d)", "4 were given", 0, 24);
        assert!(e.message.contains("`IF_THEN_ELSE`"), "{}", e.message);
        assert_err("if()", "0 were given", 0, 4);
        assert_err("if(x)", "1 was given", 0, 5);
        assert_err("1 + if(x) * 2", "1 was given", 4, 9);
    }

    // ----- IF THEN ELSE --------------------------------------------------------------------

    #[test]
    fn if_then_else_keyword_form() {
        assert_eq!(s("IF a > 1 THEN b ELSE c"), "(if (> a 1) b c)");
        assert_eq!(s("if a then b else c"), "(if a b c)");
        assert_eq!(s("If (a) > 1 Then 2 Else 3"), "(if (> a 1) 2 3)");
        assert_eq!(s("IF (a) THEN 2 ELSE 3"), "(if a 2 3)");
        assert_eq!(
            s("IF a and b THEN c or d ELSE e"),
            "(if (and a b) (or c d) e)"
        );
        assert_eq!(
            s("IF a THEN IF b THEN 1 ELSE 2 ELSE 3"),
            "(if a (if b 1 2) 3)"
        );
        assert_eq!(
            s("IF a THEN 1 ELSE IF b THEN 2 ELSE 3"),
            "(if a 1 (if b 2 3))"
        );
        assert_eq!(s("IF a THEN if(b, 1, 2) ELSE 3"), "(if a (if b 1 2) 3)");
        assert_eq!(s("IF if(b, 1, 2) THEN 1 ELSE 3"), "(if (if b 1 2) 1 3)");
        assert_eq!(s("max(IF (a) THEN 1 ELSE 2, 3)"), "(max (if a 1 2) 3)");
        assert_eq!(p("IF a THEN b ELSE c").span, Span::new(0, 18));
    }

    #[test]
    fn else_branch_extends_as_far_as_possible() {
        assert_eq!(s("1 + IF a THEN b ELSE c + d"), "(+ 1 (if a b (+ c d)))");
        assert_eq!(
            s("IF a THEN b ELSE c * 2 > 3 or d"),
            "(if a b (or (> (* c 2) 3) d))"
        );
        assert_eq!(s("(IF a THEN b ELSE c) + d"), "(+ (if a b c) d)");
        assert_eq!(s("f(IF a THEN b ELSE c, d)"), "(f (if a b c) d)");
        assert_eq!(p("1 + IF a THEN b ELSE c").span, Span::new(0, 22));
    }

    // ----- spans ---------------------------------------------------------------------------

    #[test]
    fn binary_and_unary_spans() {
        let e = p("a + b*c");
        assert_eq!(e.span, Span::new(0, 7));
        let ExprKind::Binary { lhs, rhs, .. } = e.kind else {
            panic!()
        };
        assert_eq!(lhs.span, Span::new(0, 1));
        assert_eq!(rhs.span, Span::new(4, 7));

        // Parentheses around an operand belong to the enclosing node's span...
        let e = p("(1+2)*3");
        assert_eq!(e.span, Span::new(0, 7));
        // ...but a parenthesised expression keeps the span of its contents.
        let ExprKind::Binary { lhs, .. } = e.kind else {
            panic!()
        };
        assert_eq!(lhs.span, Span::new(1, 4));
        assert_eq!(p("((a))").span, Span::new(2, 3));

        assert_eq!(p("-x").span, Span::new(0, 2));
        assert_eq!(p("not (a)").span, Span::new(0, 7));
        assert_eq!(p("2^(1)").span, Span::new(0, 5));
        // Byte offsets, not characters: U+00A0 (two bytes) is whitespace.
        assert_eq!(p("\u{a0}a").span, Span::new(2, 3));
    }

    // ----- errors --------------------------------------------------------------------------

    #[test]
    fn empty_equation() {
        assert_err(
            "",
            "the equation is empty; write a number or an expression",
            0,
            0,
        );
        assert_err(" \n\t ", "the equation is empty", 0, 4);
    }

    #[test]
    fn number_followed_by_name() {
        let e = assert_err("2x", "number cannot be directly followed by a name", 0, 2);
        assert_eq!(help(&e), "put `*` between a number and a name");
        assert_err("3 * 1.5abc", "`1.5abc`", 4, 10);
        assert_err("1e+", "incomplete exponent", 0, 3);
        assert_err("1e999", "too large", 0, 5);
    }

    #[test]
    fn unexpected_characters() {
        assert_err("a $ b", "unexpected character `$`", 2, 3);
        assert_err("é", "unexpected character `é`", 0, 2);
        assert_err("a # comment", "unexpected character `#`", 2, 3);
        assert_err("{comment} a", "unexpected character `{`", 0, 1);
        let e = assert_err("a & b", "unexpected character `&`", 2, 3);
        assert!(help(&e).contains("and"));
        assert_err("a ; b", "unexpected character `;`", 2, 3);
        assert_err("a\u{0}", "unexpected character `\\0`", 1, 2);
        let e = assert_err("a ** 2", "`**` is not an operator", 2, 4);
        assert!(help(&e).contains('^'));
        let e = assert_err("a => 2", "`=>` is not an operator", 2, 4);
        assert!(help(&e).contains(">="));
        assert_err("a. b", "expected a name after `.`", 0, 2);
        assert_err("a.", "expected a name after `.`", 0, 2);
        assert_err(". 5", "unexpected character `.`", 0, 1);
    }

    #[test]
    fn unterminated_string() {
        let e = assert_err("pop[\"85+]", "unterminated", 4, 9);
        assert!(help(&e).contains('"'));
        assert_err("pop['85+]", "unterminated", 4, 9);
        assert_err("pop[\"85\n+\"]", "unterminated", 4, 7);
    }

    #[test]
    fn unclosed_parenthesis() {
        let e = assert_err("(1 + 2", "unclosed parenthesis", 0, 1);
        assert_eq!(help(&e), "add `)`");
        assert_err("a * ((1 + 2)", "unclosed parenthesis", 4, 5);
        let e = assert_err("f(1, g(2)", "unclosed parenthesis in the call to `f`", 1, 2);
        assert_eq!(help(&e), "add `)`");
        assert_err(
            "(a b)",
            "expected `)` to close the parenthesis, found `b`",
            3,
            4,
        );
        assert_err("(a]", "expected `)`", 2, 3);
        assert_err(
            "f(a b)",
            "expected `,` or `)` in the call to `f`, found `b`",
            4,
            5,
        );
    }

    #[test]
    fn missing_operand() {
        assert_err("1 +", "expected a value after `+`", 2, 3);
        assert_err("1 + )", "expected a value after `+`, found `)`", 4, 5);
        assert_err("a * / b", "expected a value after `*`, found `/`", 4, 5);
        assert_err("a <", "expected a value after `<`", 2, 3);
        assert_err("a and", "expected a value after `and`", 2, 5);
        assert_err("-", "expected a value after `-`", 0, 1);
        assert_err("not", "expected a value after `not`", 0, 3);
        assert_err("2^", "expected a value after `^`", 1, 2);
        assert_err(")", "expected a value, found `)`", 0, 1);
        assert_err("()", "expected a value after `(`, found `)`", 1, 2);
        let e = assert_err("f(1,)", "expected a value after `,`, found `)`", 4, 5);
        assert!(help(&e).contains("remove the extra `,`"));
        assert_err("f(,1)", "expected a value after `(`, found `,`", 2, 3);
        assert_err(
            "IF a THEN ELSE b",
            "expected a value after `THEN`, found `ELSE`",
            10,
            14,
        );
    }

    #[test]
    fn trailing_tokens() {
        assert_err("a)", "unexpected `)` after a complete expression", 1, 2);
        let e = assert_err("1 2", "unexpected `2` after a complete expression", 2, 3);
        assert!(help(&e).contains("operator"));
        assert_err("a b", "unexpected `b` after a complete expression", 2, 3);
        assert_err(
            "f(x)[a]",
            "unexpected `[` after a complete expression",
            4,
            5,
        );
        assert_err("a, b", "unexpected `,` after a complete expression", 1, 2);
        assert_err(
            "a then b",
            "unexpected `then` after a complete expression",
            2,
            6,
        );
        assert_err("1.2.3", "unexpected `.3` after a complete expression", 3, 5);
        assert_err("a]", "unexpected `]`", 1, 2);
    }

    #[test]
    fn chained_comparisons() {
        let e = assert_err("a < b < c", "comparisons cannot be chained", 6, 7);
        assert!(help(&e).contains("combine comparisons with `and`"));
        assert_err("a = b = c", "cannot be chained", 6, 7);
        assert_err("a < b >= c", "cannot be chained", 6, 8);
    }

    #[test]
    fn if_errors() {
        let e = assert_err("IF a THEN b", "no ELSE branch", 0, 11);
        assert_eq!(help(&e), "every IF needs an ELSE branch");
        let e = assert_err(
            "(IF a THEN b) + 1",
            "expected `ELSE` after the THEN branch, found `)`",
            12,
            13,
        );
        assert_eq!(help(&e), "every IF needs an ELSE branch");
        assert_err(
            "IF a b ELSE c",
            "expected `THEN` after the IF condition, found `b`",
            5,
            6,
        );
        assert_err("IF a", "expected `THEN`", 0, 4);
        assert_err("IF", "expected a value after `IF`", 0, 2);
        assert_err("a ELSE b", "unexpected `ELSE`", 2, 6);
    }

    #[test]
    fn subscript_errors() {
        let e = assert_err("pop[]", "empty subscript brackets", 3, 5);
        assert!(help(&e).contains("remove"));
        let e = assert_err("pop[age", "unclosed `[`", 3, 4);
        assert_eq!(help(&e), "add `]`");
        assert_err(
            "pop[age frailty]",
            "expected `,` or `]` in the subscripts, found `frailty`",
            8,
            15,
        );
        assert_err(
            "pop[1]",
            "expected a dimension or element name in the subscripts, found `1`",
            4,
            5,
        );
        assert_err("pop[age,]", "found `]`", 8, 9);
        assert_err("pop[a..*]", "after `..`, found `*`", 7, 8);
        assert_err("pop[a..]", "after `..`", 7, 8);
        assert_err("pop[*..b]", "expected `,` or `]`", 5, 7);
        assert_err("pop[\"\"]", "empty quoted element name", 4, 6);
        assert_err("pop[m.age]", "cannot be module-qualified", 4, 9);
        let e = assert_err("pop[not]", "found `not`", 4, 7);
        assert!(help(&e).contains("\"not\""));
        assert_err("pop[a+1]", "expected `,` or `]`", 5, 6);
    }

    #[test]
    fn misplaced_names() {
        let e = assert_err(
            "frailty.effect(x)",
            "module-qualified lookups like `frailty.effect(...)` are not supported; bind the lookup through an auxiliary",
            0,
            14,
        );
        assert!(help(&e).contains("`frailty`"));
        assert_err(
            "\"85+\" + 1",
            "quoted names like `\"85+\"` can only be used inside subscript",
            0,
            5,
        );
        assert_err("1 + not b", "`not` must be wrapped in parentheses", 4, 7);
        assert_err("a < !b", "`!` must be wrapped in parentheses", 4, 5);
    }

    // ----- limits and robustness -----------------------------------------------------------

    #[test]
    fn nesting_limit() {
        let ok = format!("{}1{}", "(".repeat(150), ")".repeat(150));
        assert_eq!(s(&ok), "1");
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = assert_err(
            &deep,
            "expression nested too deeply",
            MAX_NESTING,
            MAX_NESTING + 1,
        );
        assert!(e.help.is_some());
        for deep in [
            format!("{}1", "-".repeat(10_000)),
            format!("{}a", "not ".repeat(10_000)),
            format!("{}2", "2^".repeat(10_000)),
            format!("{}1{}", "f(".repeat(10_000), ")".repeat(10_000)),
            format!("{}1{}", "pop[".repeat(10_000), "]".repeat(10_000)),
            "IF a THEN ".repeat(10_000),
        ] {
            let e = err(&deep);
            assert!(!e.message.is_empty());
        }
        assert_err(
            &"IF a THEN ".repeat(10_000),
            "nested too deeply",
            2000,
            2002,
        );
    }

    #[test]
    fn long_chains() {
        let sum = vec!["a"; 500].join(" + ");
        assert!(matches!(
            p(&sum).kind,
            ExprKind::Binary {
                op: BinaryOp::Add,
                ..
            }
        ));
        let long = vec!["a"; 20_000].join("+");
        // The 1001st operator in a row exceeds MAX_TREE_DEPTH.
        assert_err(&long, "expression nested too deeply", 2001, 2002);
    }

    /// A tiny deterministic pseudo-random generator (LCG), so the test needs no dependencies.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn never_panics_on_junk() {
        const RANDOM_BYTE_CASES: usize = 5_000;
        const FRAGMENT_CASES: usize = 20_000;
        let mut rng = Lcg(0x5eed);
        // Random bytes, decoded lossily (so replacement characters and other non-ASCII appear).
        for _ in 0..RANDOM_BYTE_CASES {
            let len = rng.below(40);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
        // Random sequences of meaningful fragments, which reach much deeper into the grammar.
        const PIECES: [&str; 40] = [
            "(", ")", "[", "]", ",", "+", "-", "*", "/", "^", "<", "<=", "<>", "=", "!", "&&",
            "||", "..", ".", "\"", "'", "\"85+\"", "a", "b.c", "1", ".5", "1e-3", "2e", "IF ",
            " THEN ", " ELSE ", " and ", " or ", " not ", "if(", "f(", "*", " ", "é", "\n",
        ];
        for _ in 0..FRAGMENT_CASES {
            let len = rng.below(25);
            let text: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            if let Err(e) = parse(&text) {
                assert!(
                    e.span.start <= e.span.end && e.span.end <= text.len(),
                    "{text:?}: {e:?}"
                );
                assert!(text.is_char_boundary(e.span.start) && text.is_char_boundary(e.span.end));
            }
        }
    }

    #[test]
    fn never_panics_on_unbalanced_brackets() {
        for text in [
            "(",
            ")",
            "[",
            "]",
            "((",
            "))",
            "([)]",
            "a[",
            "a]",
            "a[(]",
            "f(]",
            "f([",
            "a[b(c]",
            "if(",
            "if(a",
            "if(a,",
            "if((",
            "if(a))",
            "IF (",
            "IF (a",
            "IF (a)",
            "IF (a) THEN",
            "pop[\"",
            "pop[a..",
            "\"",
            "'",
            "[*]",
            "a[*",
            "x..y",
            "..",
            "(..)",
            "f(,)",
            "f(a,,b)",
        ] {
            assert!(parse(text).is_err(), "{text:?} should not parse");
        }
    }
}
