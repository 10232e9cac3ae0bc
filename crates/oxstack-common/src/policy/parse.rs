//! The oslo.policy rule language: tokenizer and parser from a check string to a [`Node`] tree.
//!
//! The grammar is oslo's: a check string is split on whitespace; leading `(` and trailing `)`
//! of each word are parentheses; `and`, `or` and `not` (any case) are operators with the
//! precedence `not` > `and` > `or`; everything else is a check `KIND:MATCH` (split at the first
//! colon), or one of `@` (always) and `!` (never). The empty string is "always".
//!
//! Unlike oslo, which logs a malformed rule and turns it into "never", we reject it with a
//! [`ParseError`], so a typo in an operator's policy file stops the service at load time
//! instead of silently locking everyone out.

use std::fmt;

use super::creds::CredKey;

/// Why a check string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The string has only whitespace (oslo would silently deny everything).
    #[error("the rule is blank; use \"\" or \"@\" to allow everyone, \"!\" to allow no one")]
    Blank,
    /// The rule ended where an operand was expected (`role:a and`, `not`).
    #[error("the rule ends where a check was expected")]
    UnexpectedEnd,
    /// A token where it does not belong (`and and`, `a b`, `)`).
    #[error("unexpected {0} in the rule")]
    UnexpectedToken(String),
    /// A `(` without its `)`.
    #[error("a \"(\" is not closed")]
    Unclosed,
    /// A check without `KIND:` (`admin` instead of `role:admin`).
    #[error("{0:?} is not a check: expected KIND:VALUE, \"@\" or \"!\"")]
    NotACheck(String),
    /// `:value` with nothing before the colon.
    #[error("{0:?} has an empty kind before the colon")]
    EmptyKind(String),
    /// `rule:` with no rule name.
    #[error("{0:?} names no rule")]
    EmptyRuleName(String),
    /// `http:`/`https:` external checks, which oxstack does not implement.
    #[error("{0:?}: check kind {1:?} is not supported")]
    UnsupportedKind(String, String),
    /// A bad `%(...)s` substitution.
    #[error("{0:?}: {1}")]
    BadSubstitution(String, &'static str),
}

/// One parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `@` or the empty rule.
    Always,
    /// `!`.
    Never,
    /// `rule:NAME`; `slot` is the index of `NAME` in the enforcer's rule table, filled in when
    /// the enforcer links its rules (`None`: no such rule, which never passes, as in oslo).
    Rule {
        name: Box<str>,
        slot: Option<usize>,
    },
    /// `role:NAME` (NAME may contain substitutions); compared without regard to case.
    Role(Template),
    /// `KIND:VALUE` where KIND is a credential attribute or a literal.
    Generic {
        left: Left,
        right: Template,
    },
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// The left side of a generic check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Left {
    /// A Python literal (`'member'`, `"x"`, `True`, `False`, `None`, an integer), kept as the
    /// text Python's `str()` would give.
    Literal(Box<str>),
    /// A credential attribute, possibly a dotted path (`token.domain.id`).
    Cred(CredKey),
}

/// The right side of a check: literal text with `%(key)s` substitutions from the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) parts: Vec<Part>,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Lit(Box<str>),
    /// A target key; dotted keys are looked up flat first, then as a nested path.
    Key(Box<str>),
}

impl Template {
    /// Parses Python `%`-formatting with a mapping: `%(key)s` and `%%` only.
    fn parse(check: &str, text: &str) -> Result<Self, ParseError> {
        let bad = |why| ParseError::BadSubstitution(check.to_owned(), why);
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('%') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(r) = after.strip_prefix('%') {
                lit.push('%');
                rest = r;
                continue;
            }
            let inner = after.strip_prefix('(').ok_or_else(|| {
                bad("a \"%\" must start \"%(key)s\" (write \"%%\" for a percent sign)")
            })?;
            let close = inner
                .find(')')
                .ok_or_else(|| bad("\"%(\" is not closed by \")s\""))?;
            let key = &inner[..close];
            let r = inner[close + 1..]
                .strip_prefix('s')
                .ok_or_else(|| bad("only the \"%(key)s\" conversion is supported"))?;
            if key.is_empty() {
                return Err(bad("\"%()s\" names no key"));
            }
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit).into()));
            }
            parts.push(Part::Key(key.into()));
            rest = r;
        }
        lit.push_str(rest);
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit.into()));
        }
        Ok(Template { parts })
    }

    /// The text, when the template has no substitutions.
    pub(crate) fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                Part::Lit(s) => f.write_str(&s.replace('%', "%%"))?,
                Part::Key(k) => write!(f, "%({k})s")?,
            }
        }
        Ok(())
    }
}

/// Renders the tree the way oslo's `str(check)` does: every `and`/`or` in parentheses.
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, items: &[Node], op: &str| {
            f.write_str("(")?;
            for (i, n) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{n}")?;
            }
            f.write_str(")")
        };
        match self {
            Node::Always => f.write_str("@"),
            Node::Never => f.write_str("!"),
            Node::Rule { name, .. } => write!(f, "rule:{name}"),
            Node::Role(t) => write!(f, "role:{t}"),
            Node::Generic { left, right } => match left {
                Left::Literal(s) => write!(f, "'{s}':{right}"),
                Left::Cred(k) => write!(f, "{k}:{right}"),
            },
            Node::Not(n) => write!(f, "not {n}"),
            Node::And(items) => join(f, items, "and"),
            Node::Or(items) => join(f, items, "or"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// A whole word in quotes: valid in oslo's token stream but in no production.
    Quoted(&'a str),
    Check(&'a str),
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LParen => f.write_str("\"(\""),
            Tok::RParen => f.write_str("\")\""),
            Tok::And => f.write_str("\"and\""),
            Tok::Or => f.write_str("\"or\""),
            Tok::Not => f.write_str("\"not\""),
            Tok::Quoted(s) => write!(f, "quoted string {s:?}"),
            Tok::Check(s) => write!(f, "check {s:?}"),
        }
    }
}

fn tokenize(rule: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    for word in rule.split_whitespace() {
        let clean = word.trim_start_matches('(');
        toks.extend(std::iter::repeat_n(Tok::LParen, word.len() - clean.len()));
        let core = clean.trim_end_matches(')');
        let trail = clean.len() - core.len();
        if !core.is_empty() {
            let quoted = core.len() >= 2
                && ((core.starts_with('"') && core.ends_with('"'))
                    || (core.starts_with('\'') && core.ends_with('\'')));
            toks.push(if core.eq_ignore_ascii_case("and") {
                Tok::And
            } else if core.eq_ignore_ascii_case("or") {
                Tok::Or
            } else if core.eq_ignore_ascii_case("not") {
                Tok::Not
            } else if quoted {
                Tok::Quoted(core)
            } else {
                Tok::Check(core)
            });
        }
        toks.extend(std::iter::repeat_n(Tok::RParen, trail));
    }
    toks
}

/// Parses one check string into a tree.
pub(crate) fn parse(rule: &str) -> Result<Node, ParseError> {
    if rule.is_empty() {
        return Ok(Node::Always);
    }
    let toks = tokenize(rule);
    if toks.is_empty() {
        return Err(ParseError::Blank);
    }
    let mut p = Parser { toks, pos: 0 };
    let node = p.or_expr()?;
    match p.toks.get(p.pos) {
        None => Ok(node),
        Some(t) => Err(ParseError::UnexpectedToken(t.to_string())),
    }
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn or_expr(&mut self) -> Result<Node, ParseError> {
        let mut items = vec![self.and_expr()?];
        while self.peek() == Some(Tok::Or) {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Node::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Node, ParseError> {
        let mut items = vec![self.not_expr()?];
        while self.peek() == Some(Tok::And) {
            self.pos += 1;
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Node::And(items)
        })
    }

    fn not_expr(&mut self) -> Result<Node, ParseError> {
        if self.peek() == Some(Tok::Not) {
            self.pos += 1;
            return Ok(Node::Not(Box::new(self.not_expr()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Node, ParseError> {
        let tok = self.peek().ok_or(ParseError::UnexpectedEnd)?;
        self.pos += 1;
        match tok {
            Tok::LParen => {
                let inner = self.or_expr()?;
                match self.peek() {
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    Some(t) => Err(ParseError::UnexpectedToken(t.to_string())),
                    None => Err(ParseError::Unclosed),
                }
            }
            Tok::Check(s) => parse_check(s),
            t => Err(ParseError::UnexpectedToken(t.to_string())),
        }
    }
}

/// Parses a single check: `@`, `!`, `rule:`, `role:` or a generic `KIND:VALUE`.
fn parse_check(check: &str) -> Result<Node, ParseError> {
    match check {
        "@" => return Ok(Node::Always),
        "!" => return Ok(Node::Never),
        _ => {}
    }
    let (kind, value) = check
        .split_once(':')
        .ok_or_else(|| ParseError::NotACheck(check.to_owned()))?;
    match kind {
        "" => Err(ParseError::EmptyKind(check.to_owned())),
        "rule" if value.is_empty() => Err(ParseError::EmptyRuleName(check.to_owned())),
        "rule" => Ok(Node::Rule {
            name: value.into(),
            slot: None,
        }),
        "role" => Ok(Node::Role(Template::parse(check, value)?)),
        "http" | "https" => Err(ParseError::UnsupportedKind(
            check.to_owned(),
            kind.to_owned(),
        )),
        _ => Ok(Node::Generic {
            left: parse_left(kind),
            right: Template::parse(check, value)?,
        }),
    }
}

/// oslo tries `ast.literal_eval(kind)` first and falls back to a credential path; we accept
/// the literals policy files use: quoted strings, `True`/`False`/`None` and integers.
fn parse_left(kind: &str) -> Left {
    let unquoted = [('\'', '\''), ('"', '"')].iter().find_map(|&(a, b)| {
        kind.strip_prefix(a)
            .and_then(|k| k.strip_suffix(b))
            .filter(|_| kind.len() >= 2)
    });
    if let Some(s) = unquoted {
        return Left::Literal(s.into());
    }
    if matches!(kind, "True" | "False" | "None") {
        return Left::Literal(kind.into());
    }
    if let Ok(n) = kind.parse::<i64>() {
        return Left::Literal(n.to_string().into());
    }
    Left::Cred(CredKey::parse(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(rule: &str) -> String {
        match parse(rule) {
            Ok(n) => n.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn empty_and_constants() {
        assert_eq!(parse(""), Ok(Node::Always));
        assert_eq!(parse("@"), Ok(Node::Always));
        assert_eq!(parse("!"), Ok(Node::Never));
        assert_eq!(parse("  "), Err(ParseError::Blank));
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        assert_eq!(
            show("role:a or role:b and role:c"),
            "(role:a or (role:b and role:c))"
        );
        assert_eq!(
            show("role:a and role:b or role:c"),
            "((role:a and role:b) or role:c)"
        );
        assert_eq!(show("not role:a and role:b"), "(not role:a and role:b)");
        assert_eq!(
            show("role:a or not role:b and not not role:c"),
            "(role:a or (not role:b and not not role:c))"
        );
        assert_eq!(
            show("role:a and role:b and role:c or role:d or role:e"),
            "((role:a and role:b and role:c) or role:d or role:e)"
        );
    }

    #[test]
    fn parentheses_override_precedence() {
        assert_eq!(
            show("(role:a or role:b) and role:c"),
            "((role:a or role:b) and role:c)"
        );
        assert_eq!(show("((role:a))"), "role:a");
        assert_eq!(show("not (role:a or role:b)"), "not (role:a or role:b)");
        // Parentheses glued to checks, several deep, as policy files write them.
        assert_eq!(
            show("((role:a and system_scope:all) or (user_id:%(user_id)s))"),
            "((role:a and system_scope:all) or user_id:%(user_id)s)"
        );
    }

    #[test]
    fn operators_are_case_insensitive() {
        assert_eq!(
            show("role:a AND role:b Or NOT role:c"),
            "((role:a and role:b) or not role:c)"
        );
    }

    #[test]
    fn check_kinds() {
        assert_eq!(
            parse("rule:admin_required"),
            Ok(Node::Rule {
                name: "admin_required".into(),
                slot: None
            })
        );
        // Only the first colon separates the kind.
        assert_eq!(show("rule:identity:get_user"), "rule:identity:get_user");
        assert_eq!(show("role:compute:admin"), "role:compute:admin");
        assert_eq!(show("'member':%(role.name)s"), "'member':%(role.name)s");
        assert_eq!(show("\"member\":%(role.name)s"), "'member':%(role.name)s");
        assert_eq!(show("True:%(enabled)s"), "'True':%(enabled)s");
        assert_eq!(
            show("token.domain.id:%(target.user.domain_id)s"),
            "token.domain.id:%(target.user.domain_id)s"
        );
        assert!(matches!(
            parse("'member':%(role.name)s"),
            Ok(Node::Generic { left: Left::Literal(s), .. }) if &*s == "member"
        ));
        assert!(matches!(
            parse("user_id:%(user_id)s"),
            Ok(Node::Generic {
                left: Left::Cred(CredKey::UserId),
                ..
            })
        ));
    }

    #[test]
    fn templates() {
        let t = |s: &str| Template::parse("c", s);
        assert_eq!(
            t("a-%(x.y)s-%%-%(z)s"),
            Ok(Template {
                parts: vec![
                    Part::Lit("a-".into()),
                    Part::Key("x.y".into()),
                    Part::Lit("-%-".into()),
                    Part::Key("z".into()),
                ]
            })
        );
        assert_eq!(
            t("").map(|t| t.as_literal().map(str::to_owned)),
            Ok(Some(String::new()))
        );
        assert!(t("50%").is_err());
        assert!(t("%(x)d").is_err());
        assert!(t("%(x").is_err());
        assert!(t("%()s").is_err());
    }

    #[test]
    fn bad_syntax_is_an_error() {
        for bad in [
            "role:a and",
            "and role:a",
            "role:a role:b",
            "(role:a",
            "role:a)",
            "()",
            "not",
            "role:a or or role:b",
            "admin",
            ":x",
            "rule:",
            "http://example.com/check",
            "'quoted'",
            "role:50%",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(parse("(role:a"), Err(ParseError::Unclosed));
        assert_eq!(parse("admin"), Err(ParseError::NotACheck("admin".into())));
    }

    #[test]
    fn keystone_get_user_parses() {
        assert_eq!(
            show(
                "(role:reader and system_scope:all) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s"
            ),
            "((role:reader and system_scope:all) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s)"
        );
    }
}
