//! Evaluation of a parsed rule against credentials and a target, without allocating in the
//! common cases: credential values are borrowed from the token, and a `%(key)s` template is
//! compared piece by piece against each candidate instead of being rendered to a string.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use super::creds::Credentials;
use super::parse::{Left, Node, Part, Template};

/// What evaluation needs besides the node: the caller, the target, and the rule table that
/// `rule:` references index into.
pub(crate) struct Ctx<'a, 'c> {
    pub(crate) creds: &'a Credentials<'c>,
    pub(crate) target: &'a Value,
    pub(crate) rules: &'a [Node],
}

/// Evaluates `node`. `rule:` references were linked (and checked acyclic) at load.
pub(crate) fn eval(node: &Node, ctx: &Ctx<'_, '_>) -> bool {
    match node {
        Node::Always => true,
        Node::Never => false,
        Node::Rule { slot, .. } => slot
            .and_then(|i| ctx.rules.get(i))
            .is_some_and(|n| eval(n, ctx)),
        Node::Role(t) => {
            let Some(want) = render(t, ctx.target) else {
                return false;
            };
            ctx.creds
                .user
                .roles
                .iter()
                .any(|r| caseless_eq(&r.name, &want))
        }
        Node::Generic { left, right } => match left {
            Left::Literal(s) => template_matches(right, ctx.target, s),
            Left::Cred(key) => key
                .value(ctx.creds)
                .any(|candidate| template_matches(right, ctx.target, candidate)),
        },
        Node::Not(n) => !eval(n, ctx),
        Node::And(items) => items.iter().all(|n| eval(n, ctx)),
        Node::Or(items) => items.iter().any(|n| eval(n, ctx)),
    }
}

/// Looks `key` up in the target as Python's `%` would in a flattened dict (Keystone flattens
/// `{"target": {"user": {...}}}` to `"target.user.id"` keys), falling back to walking the
/// dotted path through nested objects.
pub(crate) fn lookup<'v>(target: &'v Value, key: &str) -> Option<&'v Value> {
    let obj = target.as_object()?;
    if let Some(v) = obj.get(key) {
        return Some(v);
    }
    if !key.contains('.') {
        return None;
    }
    key.split('.')
        .try_fold(target, |cur, seg| cur.as_object()?.get(seg))
}

/// Writes `v` as Python's `str()` would; lists and objects have no useful string form, so
/// they fail the comparison.
fn write_scalar(w: &mut impl fmt::Write, v: &Value) -> fmt::Result {
    match v {
        Value::String(s) => w.write_str(s),
        Value::Bool(true) => w.write_str("True"),
        Value::Bool(false) => w.write_str("False"),
        Value::Null => w.write_str("None"),
        Value::Number(n) => write!(w, "{n}"),
        Value::Array(_) | Value::Object(_) => Err(fmt::Error),
    }
}

/// Consumes `expected` as text is written to it; fails on the first difference.
struct Expect<'a>(&'a str);

impl fmt::Write for Expect<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self.0.strip_prefix(s) {
            Some(rest) => {
                self.0 = rest;
                Ok(())
            }
            None => Err(fmt::Error),
        }
    }
}

fn write_template(w: &mut impl fmt::Write, t: &Template, target: &Value) -> fmt::Result {
    for part in &t.parts {
        match part {
            Part::Lit(s) => w.write_str(s)?,
            Part::Key(k) => write_scalar(w, lookup(target, k).ok_or(fmt::Error)?)?,
        }
    }
    Ok(())
}

/// Whether the template, filled from `target`, equals `candidate`. A missing target key
/// fails the match, as oslo's `KeyError` does.
pub(crate) fn template_matches(t: &Template, target: &Value, candidate: &str) -> bool {
    let mut w = Expect(candidate);
    write_template(&mut w, t, target).is_ok() && w.0.is_empty()
}

/// The template filled from `target` (borrowed when it has no substitutions).
pub(crate) fn render<'t>(t: &'t Template, target: &Value) -> Option<Cow<'t, str>> {
    if let Some(s) = t.as_literal() {
        return Some(Cow::Borrowed(s));
    }
    let mut s = String::new();
    write_template(&mut s, t, target).ok()?;
    Some(Cow::Owned(s))
}

/// Python's `a.lower() == b.lower()`, without allocating.
pub(crate) fn caseless_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::context::{AuthInfo, RoleRef};
    use crate::policy::parse::parse;

    fn check(rule: &str, auth: &AuthInfo, target: &Value) -> bool {
        let node = parse(rule).expect("test rule parses");
        let creds = Credentials::from(auth);
        eval(
            &node,
            &Ctx {
                creds: &creds,
                target,
                rules: &[],
            },
        )
    }

    fn project_member() -> AuthInfo {
        AuthInfo {
            user_id: "u1".into(),
            user_domain_id: "d1".into(),
            project_id: Some("p1".into()),
            project_domain_id: Some("d1".into()),
            roles: vec![
                RoleRef {
                    id: "rm".into(),
                    name: "member".into(),
                },
                RoleRef {
                    id: "rr".into(),
                    name: "Reader".into(),
                },
            ],
            is_admin_project: true,
            ..AuthInfo::default()
        }
    }

    #[test]
    fn constants() {
        let a = project_member();
        assert!(check("", &a, &json!({})));
        assert!(check("@", &a, &json!({})));
        assert!(!check("!", &a, &json!({})));
        assert!(check("not !", &a, &json!({})));
    }

    #[test]
    fn role_checks_ignore_case_and_match_any_role() {
        let a = project_member();
        let t = json!({"role": "READER"});
        assert!(check("role:reader", &a, &t));
        assert!(check("role:MEMBER", &a, &t));
        assert!(!check("role:admin", &a, &t));
        assert!(check("role:%(role)s", &a, &t));
        assert!(!check("role:%(missing)s", &a, &t));
        assert!(!check("role:%(missing)s", &AuthInfo::default(), &t));
        assert!(caseless_eq("ÄDMIN", "ädmin"));
    }

    #[test]
    fn generic_checks_against_literals() {
        let a = project_member();
        let t = json!({});
        assert!(check("user_id:u1", &a, &t));
        assert!(!check("user_id:u2", &a, &t));
        assert!(check("is_admin_project:True", &a, &t));
        assert!(!check("is_admin_project:False", &a, &t));
        // Generic checks on lists match any element, and are case-sensitive.
        assert!(check("roles:member", &a, &t));
        assert!(!check("roles:reader", &a, &t));
        // Absent scope attributes are Python None.
        assert!(check("domain_id:None", &a, &t));
        assert!(!check("system_scope:all", &a, &t));
        assert!(!check("unknown_attr:x", &a, &t));
        assert!(check("not unknown_attr:x", &a, &t));
    }

    #[test]
    fn generic_checks_against_the_target() {
        let a = project_member();
        let t = json!({"project_id": "p1", "owner": "p2", "n": 3, "flag": true, "nothing": null});
        assert!(check("project_id:%(project_id)s", &a, &t));
        assert!(!check("project_id:%(owner)s", &a, &t));
        // A missing key fails the check rather than erroring, also under `not`.
        assert!(!check("project_id:%(nope)s", &a, &t));
        assert!(check("not project_id:%(nope)s", &a, &t));
        // Literals on the left.
        assert!(check("True:%(flag)s", &a, &t));
        assert!(!check("False:%(flag)s", &a, &t));
        assert!(check("3:%(n)s", &a, &t));
        assert!(check("None:%(nothing)s", &a, &t));
        assert!(check("'p1':%(project_id)s", &a, &t));
        // Mixed literal text and substitutions.
        let t2 = json!({"a": "p", "b": 1});
        assert!(check("project_id:%(a)s%(b)s", &a, &t2));
        assert!(!check("project_id:%(a)s%(b)sx", &a, &t2));
        assert!(!check("project_id:x%(a)s%(b)s", &a, &t2));
    }

    #[test]
    fn nested_and_flattened_targets() {
        let a = project_member();
        let nested =
            json!({"target": {"project": {"id": "p1", "domain_id": "d1"}, "tags": ["p1"]}});
        let flat = json!({"target.project.id": "p1"});
        assert!(check("project_id:%(target.project.id)s", &a, &nested));
        assert!(check("project_id:%(target.project.id)s", &a, &flat));
        assert!(check(
            "user_domain_id:%(target.project.domain_id)s",
            &a,
            &nested
        ));
        assert!(!check("project_id:%(target.project)s", &a, &nested));
        assert!(!check("project_id:%(target.tags)s", &a, &nested));
        assert!(!check("project_id:%(target.project.id.more)s", &a, &nested));
        assert!(!check("project_id:%(target.user.id)s", &a, &nested));
        // A literal on the left against a nested role name.
        let role = json!({"role": {"name": "member"}});
        assert!(check("'member':%(role.name)s", &a, &role));
        assert!(!check("'admin':%(role.name)s", &a, &role));
    }

    #[test]
    fn boolean_structure() {
        let a = project_member();
        let t = json!({});
        assert!(check("role:admin or role:member and user_id:u1", &a, &t));
        assert!(!check("(role:admin or role:member) and user_id:u2", &a, &t));
        assert!(check(
            "not role:admin and not (user_id:u2 or role:x)",
            &a,
            &t
        ));
    }
}
