//! The grad lesson's expression language: `x`, numbers, `+ - * /`, integer powers (`^` or
//! `**`), and `exp log sin cos tanh relu selu`. A parse error names the character where it
//! went wrong. Input is untrusted: its length, nesting and exponents are bounded.

use std::fmt;

/// Longest accepted expression, in characters.
pub const MAX_CHARS: usize = 400;
/// Deepest accepted nesting of parentheses, calls and operators.
pub const MAX_DEPTH: usize = 48;
/// Largest accepted |exponent|.
pub const MAX_POWER: i32 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Exp,
    Log,
    Sin,
    Cos,
    Tanh,
    Relu,
    Selu,
}

impl Func {
    pub const ALL: [Func; 7] = [Func::Exp, Func::Log, Func::Sin, Func::Cos, Func::Tanh, Func::Relu, Func::Selu];

    pub fn name(self) -> &'static str {
        match self {
            Func::Exp => "exp",
            Func::Log => "log",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tanh => "tanh",
            Func::Relu => "relu",
            Func::Selu => "selu",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    X,
    Const(f64),
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Pow(Box<Expr>, i32),
    Call(Func, Box<Expr>),
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Expr::X => write!(f, "x"),
            Expr::Const(c) => write!(f, "{c}"),
            Expr::Neg(a) => write!(f, "(-{a})"),
            Expr::Add(a, b) => write!(f, "({a} + {b})"),
            Expr::Sub(a, b) => write!(f, "({a} - {b})"),
            Expr::Mul(a, b) => write!(f, "({a} * {b})"),
            Expr::Div(a, b) => write!(f, "({a} / {b})"),
            Expr::Pow(a, n) => write!(f, "({a}^{n})"),
            Expr::Call(func, a) => write!(f, "{}({a})", func.name()),
        }
    }
}

/// Where and why an expression could not be read. `position` counts characters from 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

impl ParseError {
    /// The expression with a caret under the offending character, then the message.
    pub fn pointed(&self, source: &str) -> String {
        format!("{source}\n{}^\n{}", " ".repeat(self.position), self)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "at character {}: {}", self.position + 1, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Reads an expression in `x`.
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let chars: Vec<char> = source.chars().collect();
    if chars.len() > MAX_CHARS {
        return Err(ParseError { position: MAX_CHARS, message: format!("the expression is longer than {MAX_CHARS} characters") });
    }
    let mut p = Parser { chars, at: 0, depth: 0 };
    p.skip_spaces();
    if p.at == p.chars.len() {
        return Err(p.error("the expression is empty: type one in x, for example x^2"));
    }
    let e = p.sum()?;
    p.skip_spaces();
    match p.peek() {
        None => Ok(e),
        Some(')') => Err(p.error("this ')' has no matching '('")),
        Some(c) => Err(p.error(&format!("unexpected '{c}': expected an operator (+ - * / ^) or the end"))),
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn error(&self, message: &str) -> ParseError {
        ParseError { position: self.at, message: message.to_string() }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_spaces();
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, ParseError>) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(&format!("the expression nests deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// sum := product (('+' | '-') product)*
    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.product()?;
        loop {
            if self.eat('+') {
                e = Expr::Add(Box::new(e), Box::new(self.product()?));
            } else if self.eat('-') {
                e = Expr::Sub(Box::new(e), Box::new(self.product()?));
            } else {
                return Ok(e);
            }
        }
    }

    /// product := unary (('*' | '/') unary)*, where '**' is a power, not a product.
    fn product(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.unary()?;
        loop {
            self.skip_spaces();
            if self.peek() == Some('*') && self.chars.get(self.at + 1) != Some(&'*') {
                self.at += 1;
                e = Expr::Mul(Box::new(e), Box::new(self.unary()?));
            } else if self.eat('/') {
                e = Expr::Div(Box::new(e), Box::new(self.unary()?));
            } else {
                return Ok(e);
            }
        }
    }

    /// unary := '-' unary | power (so -x^2 is -(x^2))
    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.nested(|p| if p.eat('-') { Ok(Expr::Neg(Box::new(p.unary()?))) } else { p.power() })
    }

    /// power := atom (('^' | '**') integer)*
    fn power(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.atom()?;
        loop {
            self.skip_spaces();
            let op_len = match (self.peek(), self.chars.get(self.at + 1)) {
                (Some('^'), _) => 1,
                (Some('*'), Some('*')) => 2,
                _ => return Ok(e),
            };
            self.at += op_len;
            self.skip_spaces();
            let start = self.at;
            let negative = self.eat('-');
            self.skip_spaces();
            let digits_at = self.at;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.at += 1;
            }
            let digits: String = self.chars[digits_at..self.at].iter().collect();
            let n: i32 = match digits.parse::<i32>() {
                Ok(n) if n <= MAX_POWER => n,
                Ok(_) | Err(_) if !digits.is_empty() => {
                    return Err(ParseError { position: start, message: format!("exponents go up to {MAX_POWER}") })
                }
                _ => {
                    self.at = digits_at;
                    return Err(self.error("a power takes a whole number, like x^3 or x^-1"));
                }
            };
            e = Expr::Pow(Box::new(e), if negative { -n } else { n });
        }
    }

    /// atom := number | 'x' | func '(' sum ')' | '(' sum ')'
    fn atom(&mut self) -> Result<Expr, ParseError> {
        self.skip_spaces();
        let start = self.at;
        match self.peek() {
            None => Err(self.error("the expression ends too early: expected x, a number, a function or '('")),
            Some('(') => {
                self.at += 1;
                let e = self.nested(Self::sum)?;
                if self.eat(')') {
                    Ok(e)
                } else {
                    Err(self.error("expected ')' to close the '(' opened earlier"))
                }
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                    self.at += 1;
                }
                // An exponent: 1e-3, 2.5E4.
                if matches!(self.peek(), Some('e' | 'E'))
                    && self.chars.get(self.at + 1).is_some_and(|c| c.is_ascii_digit() || *c == '-' || *c == '+')
                {
                    self.at += 2;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.at += 1;
                    }
                }
                let text: String = self.chars[start..self.at].iter().collect();
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Expr::Const(v)),
                    _ => Err(ParseError { position: start, message: format!("'{text}' is not a number") }),
                }
            }
            Some(c) if c.is_ascii_alphabetic() => {
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                    self.at += 1;
                }
                let word: String = self.chars[start..self.at].iter().collect();
                if word == "x" {
                    return Ok(Expr::X);
                }
                let Some(func) = Func::ALL.into_iter().find(|f| f.name() == word) else {
                    let names: Vec<&str> = Func::ALL.iter().map(|f| f.name()).collect();
                    return Err(ParseError {
                        position: start,
                        message: format!("unknown name '{word}': use x or one of {}", names.join(", ")),
                    });
                };
                if !self.eat('(') {
                    return Err(self.error(&format!("{word} needs its argument in parentheses, like {word}(x)")));
                }
                let arg = self.nested(Self::sum)?;
                if self.eat(')') {
                    Ok(Expr::Call(func, Box::new(arg)))
                } else {
                    Err(self.error(&format!("expected ')' to close {word}(")))
                }
            }
            Some(c) => Err(self.error(&format!("unexpected '{c}': expected x, a number, a function or '('"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_precedence_and_powers() {
        assert_eq!(parse("1 + 2*x^2").unwrap().to_string(), "(1 + (2 * (x^2)))");
        assert_eq!(parse("-x**2 / 3").unwrap().to_string(), "((-(x^2)) / 3)");
        assert_eq!(parse("x - x - x").unwrap().to_string(), "((x - x) - x)");
        assert_eq!(parse("tanh(selu(x))^-1").unwrap().to_string(), "(tanh(selu(x))^-1)");
        assert_eq!(parse(" 2.5e-1*x ").unwrap().to_string(), "(0.25 * x)");
    }

    #[test]
    fn errors_point_at_the_character() {
        let at = |s: &str| parse(s).unwrap_err().position;
        assert_eq!(at("x +"), 3);
        assert_eq!(at("x + * 2"), 4);
        assert_eq!(at("sin x"), 4);
        assert_eq!(at("2 * foo(x)"), 4);
        assert_eq!(at("(x + 1"), 6);
        assert_eq!(at("x)"), 1);
        assert_eq!(at("x^y"), 2);
        assert_eq!(at("x^99"), 2);
        assert_eq!(at("x $ 2"), 2);
        assert_eq!(at(""), 0);
        let e = parse("x + @").unwrap_err();
        assert_eq!(e.pointed("x + @"), "x + @\n    ^\nat character 5: unexpected '@': expected x, a number, a function or '('");
    }

    #[test]
    fn bounds_length_and_nesting() {
        assert!(parse(&"x+".repeat(300)).unwrap_err().message.contains("longer than"));
        assert!(parse(&format!("{}x{}", "(".repeat(100), ")".repeat(100))).unwrap_err().message.contains("nests deeper"));
        assert!(parse(&"-".repeat(100)).unwrap_err().message.contains("nests deeper"));
    }
}
