//! Tokens of the equation language.
//!
//! [`tokenize`] turns the equation text into a vector of [`Token`]s that always ends with a
//! single [`TokenKind::Eof`]. Whitespace (any Unicode whitespace, including newlines and tabs)
//! separates tokens; there are no comments. Spans are byte offsets into the equation text and
//! always fall on character boundaries.

use super::ast::{ParseError, Span};

/// What kind of token; the exact spelling is recovered from the token's span.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    /// A numeric literal: `12`, `1.5`, `.5`, `1e-3`.
    Number(f64),
    /// A name, possibly module-qualified (`frailty.severe_count`). Never a keyword.
    Ident,
    /// A quoted element name (`"85+"` or `'85+'`); holds the text between the quotes.
    Str(String),
    /// `if` (any case).
    If,
    /// `then` (any case).
    Then,
    /// `else` (any case).
    Else,
    /// `and` or `&&`.
    And,
    /// `or` or `||`.
    Or,
    /// `not` or `!`.
    Not,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// `..` (subscript ranges).
    DotDot,
    /// `=` or `==`.
    Eq,
    /// `<>` or `!=`.
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// End of the equation; its span is empty and sits at the end of the text.
    Eof,
}

/// One token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Build a [`ParseError`] with an optional help text.
pub(super) fn error(message: impl Into<String>, span: Span, help: Option<String>) -> ParseError {
    ParseError {
        message: message.into(),
        span,
        help,
    }
}

/// Split `text` into tokens, ending with [`TokenKind::Eof`].
pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer { text, pos: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

/// `[A-Za-z_]`: may start a name.
fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// `[A-Za-z0-9_]`: may continue a name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Map an undotted name to its keyword, if it is one (case-insensitively).
fn keyword(name: &str) -> Option<TokenKind> {
    const KEYWORDS: [(&str, TokenKind); 6] = [
        ("if", TokenKind::If),
        ("then", TokenKind::Then),
        ("else", TokenKind::Else),
        ("and", TokenKind::And),
        ("or", TokenKind::Or),
        ("not", TokenKind::Not),
    ];
    KEYWORDS
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(name))
        .map(|(_, kind)| kind.clone())
}

/// A suggestion for a character that is not part of the language.
fn unexpected_char_help(c: char) -> Option<&'static str> {
    let help = match c {
        '&' => "write `and` (or `&&`)",
        '|' => "write `or` (or `||`)",
        '#' => "comments are not supported in equations",
        '{' | '}' => "use `(` and `)` to group; comments are not supported in equations",
        '%' => "write percentages as fractions, e.g. `0.05` for 5%",
        '×' | '·' | '∙' => "use `*` for multiplication",
        '÷' => "use `/` for division",
        '−' | '–' | '—' => "use `-` for subtraction",
        '≤' => "use `<=`",
        '≥' => "use `>=`",
        '≠' => "use `<>`",
        '“' | '”' | '‘' | '’' => "use straight quotes (`\"` or `'`) around element names",
        _ => return None,
    };
    Some(help)
}

struct Lexer<'a> {
    text: &'a str,
    /// Byte offset of the next unread character.
    pos: usize,
}

impl Lexer<'_> {
    /// The character `n` characters ahead of the current position.
    fn peek_nth(&self, n: usize) -> Option<char> {
        self.text[self.pos..].chars().nth(n)
    }

    fn peek(&self) -> Option<char> {
        self.peek_nth(0)
    }

    /// Consume one character (no-op at the end).
    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    /// Consume characters while `pred` holds.
    fn bump_while(&mut self, pred: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&pred) {
            self.bump();
        }
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.pos)
    }

    /// Lex the next token, skipping whitespace first.
    fn next_token(&mut self) -> Result<Token, ParseError> {
        self.bump_while(char::is_whitespace);
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                span: self.span_from(start),
            });
        };
        let second = self.peek_nth(1);
        let kind = if c.is_ascii_digit() || (c == '.' && second.is_some_and(|d| d.is_ascii_digit()))
        {
            self.number()?
        } else if is_name_start(c) {
            self.name()?
        } else if c == '"' || c == '\'' {
            self.quoted(c)?
        } else {
            self.punctuation(c, second)?
        };
        Ok(Token {
            kind,
            span: self.span_from(start),
        })
    }

    /// A number: digits, an optional fraction and an optional exponent. A name directly after
    /// the number (`2x`) is an error.
    fn number(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        self.bump_while(|c| c.is_ascii_digit());
        // A fraction dot, but not the first dot of a `..` range.
        if self.peek() == Some('.') && self.peek_nth(1) != Some('.') {
            self.bump();
            self.bump_while(|c| c.is_ascii_digit());
        }
        self.exponent(start)?;
        if self.peek().is_some_and(is_name_char) {
            self.bump_while(is_name_char);
            let span = self.span_from(start);
            return Err(error(
                format!(
                    "a number cannot be directly followed by a name (`{}`)",
                    &self.text[span.start..span.end]
                ),
                span,
                Some("put `*` between a number and a name".into()),
            ));
        }
        let span = self.span_from(start);
        let literal = &self.text[span.start..span.end];
        match literal.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(TokenKind::Number(value)),
            Ok(_) => Err(error(
                format!("the number `{literal}` is too large"),
                span,
                Some("numbers must be below about 1.8e308".into()),
            )),
            Err(_) => Err(error(
                format!("`{literal}` is not a valid number"),
                span,
                None,
            )),
        }
    }

    /// An optional exponent (`e-3`, `E+4`, `e10`). An `e` that is not followed by digits is
    /// left alone (it is then reported as a name after the number), except `e+`/`e-` without
    /// digits, which is reported as an incomplete exponent.
    fn exponent(&mut self, start: usize) -> Result<(), ParseError> {
        if !matches!(self.peek(), Some('e' | 'E')) {
            return Ok(());
        }
        let is_digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        let signed = matches!(self.peek_nth(1), Some('+' | '-'));
        if is_digit(self.peek_nth(1)) || (signed && is_digit(self.peek_nth(2))) {
            self.bump();
            if signed {
                self.bump();
            }
            self.bump_while(|c| c.is_ascii_digit());
        } else if signed {
            self.bump();
            self.bump();
            let span = self.span_from(start);
            let literal = &self.text[span.start..span.end];
            return Err(error(
                format!("the number `{literal}` has an incomplete exponent"),
                span,
                Some(format!("write the exponent's digits, e.g. `{literal}3`")),
            ));
        }
        Ok(())
    }

    /// A name (`pop`, `frailty.severe_count`) or a keyword.
    fn name(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        self.bump_while(is_name_char);
        let mut dotted = false;
        while self.peek() == Some('.') && self.peek_nth(1) != Some('.') {
            if !self.peek_nth(1).is_some_and(is_name_start) {
                self.bump();
                let span = self.span_from(start);
                return Err(error(
                    format!(
                        "expected a name after `.` in `{}`",
                        &self.text[span.start..span.end]
                    ),
                    span,
                    Some("write qualified names as `module.name`, without spaces".into()),
                ));
            }
            self.bump();
            self.bump_while(is_name_char);
            dotted = true;
        }
        let name = &self.text[start..self.pos];
        Ok(if dotted {
            TokenKind::Ident
        } else {
            keyword(name).unwrap_or(TokenKind::Ident)
        })
    }

    /// A quoted element name; it must close on the same line.
    fn quoted(&mut self, quote: char) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        self.bump();
        let content_start = self.pos;
        self.bump_while(|c| c != quote && c != '\n');
        if self.peek() != Some(quote) {
            let span = self.span_from(start);
            return Err(error(
                format!("unterminated quoted name: missing the closing `{quote}`"),
                span,
                Some(format!("add `{quote}` after the element name")),
            ));
        }
        let content = self.text[content_start..self.pos].to_string();
        self.bump();
        Ok(TokenKind::Str(content))
    }

    /// Operators and brackets; `c` is the current character and `second` the one after it.
    fn punctuation(&mut self, c: char, second: Option<char>) -> Result<TokenKind, ParseError> {
        use TokenKind as T;
        let start = self.pos;
        let (kind, len) = match (c, second) {
            ('=', Some('>' | '<')) => return Err(self.reversed_comparison(start)),
            ('*', Some('*')) => {
                return Err(error(
                    "`**` is not an operator",
                    Span::new(start, start + 2),
                    Some("use `^` for powers".into()),
                ));
            }
            ('=', Some('=')) => (T::Eq, 2),
            ('<', Some('=')) => (T::Le, 2),
            ('<', Some('>')) | ('!', Some('=')) => (T::Ne, 2),
            ('>', Some('=')) => (T::Ge, 2),
            ('&', Some('&')) => (T::And, 2),
            ('|', Some('|')) => (T::Or, 2),
            ('.', Some('.')) => (T::DotDot, 2),
            ('=', _) => (T::Eq, 1),
            ('<', _) => (T::Lt, 1),
            ('>', _) => (T::Gt, 1),
            ('!', _) => (T::Not, 1),
            ('+', _) => (T::Plus, 1),
            ('-', _) => (T::Minus, 1),
            ('*', _) => (T::Star, 1),
            ('/', _) => (T::Slash, 1),
            ('^', _) => (T::Caret, 1),
            ('(', _) => (T::LParen, 1),
            (')', _) => (T::RParen, 1),
            ('[', _) => (T::LBracket, 1),
            (']', _) => (T::RBracket, 1),
            (',', _) => (T::Comma, 1),
            _ => return Err(self.unexpected_char(c)),
        };
        self.pos += len;
        Ok(kind)
    }

    /// `=>` / `=<`, which are probably meant as `>=` / `<=`.
    fn reversed_comparison(&self, start: usize) -> ParseError {
        let written = &self.text[start..start + 2];
        let meant: String = written.chars().rev().collect();
        error(
            format!("`{written}` is not an operator"),
            Span::new(start, start + 2),
            Some(format!("did you mean `{meant}`?")),
        )
    }

    /// A character that cannot start any token.
    fn unexpected_char(&self, c: char) -> ParseError {
        error(
            format!("unexpected character `{}`", c.escape_debug()),
            Span::new(self.pos, self.pos + c.len_utf8()),
            unexpected_char_help(c).map(str::to_string),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn operators_and_keywords() {
        use TokenKind as T;
        assert_eq!(
            kinds("a<>b != c <= >= == = && || ! .. AND Not"),
            vec![
                T::Ident,
                T::Ne,
                T::Ident,
                T::Ne,
                T::Ident,
                T::Le,
                T::Ge,
                T::Eq,
                T::Eq,
                T::And,
                T::Or,
                T::Not,
                T::DotDot,
                T::And,
                T::Not,
                T::Eof
            ]
        );
    }

    #[test]
    fn dotted_names_and_ranges() {
        let tokens = tokenize("a.b.c x..y \"p\"..'q'").unwrap();
        assert_eq!(tokens[0].span, Span::new(0, 5));
        assert_eq!(tokens[1].kind, TokenKind::Ident);
        assert_eq!(tokens[2].kind, TokenKind::DotDot);
        assert_eq!(tokens[4].kind, TokenKind::Str("p".into()));
        assert_eq!(tokens[6].kind, TokenKind::Str("q".into()));
    }

    #[test]
    fn number_before_range_dots() {
        assert_eq!(
            kinds("1..2"),
            vec![
                TokenKind::Number(1.0),
                TokenKind::DotDot,
                TokenKind::Number(2.0),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn eof_span_is_at_the_end() {
        let tokens = tokenize("ab  ").unwrap();
        assert_eq!(tokens.last().unwrap().span, Span::new(4, 4));
    }
}
