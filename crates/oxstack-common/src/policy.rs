//! The policy engine every oxstack service uses: oslo.policy's rule language, registered
//! defaults with scope types, operator overrides, and enforcement.
//!
//! A service declares its rules as data, a `&'static [RuleDefault]`, and builds one
//! [`Enforcer`] at startup from those defaults and the operator's optional policy file
//! (oslo.policy YAML or JSON: `"identity:create_user": "role:admin and system_scope:all"`).
//! Every rule is parsed once, at load, into a tree whose `rule:` references are linked by
//! index and checked for cycles; a malformed rule fails the load with an error naming it.
//! Handlers then call [`Enforcer::authorize`] with the caller's [`AuthInfo`] and a JSON target
//! describing the object acted on.
//!
//! Behaviour follows oslo.policy with `enforce_scope = True` and `enforce_new_defaults = True`
//! (both configurable in [`EnforcerConfig`]):
//! - scope first: a registered rule with `scope_types` refuses a token whose scope is not
//!   among them; then the check string is evaluated;
//! - generic checks compare `str()` of a credential attribute (or a Python literal on the
//!   left) with the right side after `%(key)s` substitution from the target; a missing key
//!   fails the check; list-valued credentials match if any element does;
//! - credentials are oslo.context's policy values plus Keystone's `token.*` view (see
//!   [`Credentials`] for the attribute list); as in oslo, an absent scope attribute such as
//!   `project_id` of a system token is Python `None` and so equals a target value of `null`.
//!
//! Deliberate differences from oslo: malformed rules and `rule:` cycles are load errors
//! instead of silent denials; an unscoped token has no scope, so it fails every rule that has
//! `scope_types` (oslo calls it "project"; see [`EnforcerConfig::unscoped_is_project`]);
//! the legacy list-of-lists rule syntax, `http:` checks and the `default` fallback rule are
//! not supported.

mod creds;
mod eval;
mod matrix;
mod parse;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Error;
use crate::context::AuthInfo;

pub use creds::{Credentials, Scope};
pub use matrix::{PERSONA_DOMAIN_ID, PERSONA_PROJECT_ID, Persona, owned_target};
pub use parse::ParseError;

use parse::Node;

/// A rule a service registers: its name, default check string, the token scopes it is meant
/// for, and documentation for operators. Declared as constants:
///
/// ```
/// use oxstack_common::policy::RuleDefault;
///
/// pub const DEFAULTS: &[RuleDefault] = &[
///     RuleDefault::new("admin_required", "role:admin"),
///     RuleDefault::new("identity:get_user", "(role:reader and system_scope:all) or user_id:%(target.user.id)s")
///         .scope_types(&["system", "domain", "project"])
///         .description("Show user details.")
///         .operations(&[("GET", "/v3/users/{user_id}"), ("HEAD", "/v3/users/{user_id}")]),
/// ];
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleDefault {
    /// The rule name, e.g. `identity:get_user`.
    pub name: &'static str,
    /// The default check string.
    pub check_str: &'static str,
    /// The token scopes (`system`, `domain`, `project`) the operation is meant for; empty
    /// means any token, including unscoped ones.
    pub scope_types: &'static [&'static str],
    /// What the rule protects, for operators.
    pub description: &'static str,
    /// The API calls the rule protects, as `(method, path)`.
    pub operations: &'static [(&'static str, &'static str)],
    /// The rule this one replaced, honoured as oslo does when an operator overrode the old
    /// name or asked not to enforce new defaults yet.
    pub deprecated: Option<DeprecatedRule>,
}

/// The former name and check string of a rule (oslo's `DeprecatedRule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeprecatedRule {
    /// The old rule name (may equal the new one when only the check string changed).
    pub name: &'static str,
    /// The old check string.
    pub check_str: &'static str,
}

impl RuleDefault {
    /// A rule with no scope types, description or operations (e.g. a base rule such as
    /// `admin_required` that others refer to with `rule:`).
    pub const fn new(name: &'static str, check_str: &'static str) -> Self {
        RuleDefault {
            name,
            check_str,
            scope_types: &[],
            description: "",
            operations: &[],
            deprecated: None,
        }
    }

    /// Sets the scope types.
    pub const fn scope_types(mut self, scope_types: &'static [&'static str]) -> Self {
        self.scope_types = scope_types;
        self
    }

    /// Sets the description.
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// Sets the protected operations.
    pub const fn operations(mut self, operations: &'static [(&'static str, &'static str)]) -> Self {
        self.operations = operations;
        self
    }

    /// Records the rule this one replaces.
    pub const fn deprecated(mut self, name: &'static str, check_str: &'static str) -> Self {
        self.deprecated = Some(DeprecatedRule { name, check_str });
        self
    }
}

/// Enforcement switches, named as oslo.policy's `[oslo_policy]` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnforcerConfig {
    /// Refuse tokens whose scope is not in a rule's `scope_types` (oslo `enforce_scope`).
    /// When false, a mismatch is only logged.
    pub enforce_scope: bool,
    /// Enforce only the new default of a rule with a deprecated predecessor (oslo
    /// `enforce_new_defaults`). When false, the old check string also passes.
    pub enforce_new_defaults: bool,
    /// Treat an unscoped token as project-scoped, as oslo does. Off by default: an unscoped
    /// token then passes only rules without `scope_types`.
    pub unscoped_is_project: bool,
}

impl Default for EnforcerConfig {
    fn default() -> Self {
        EnforcerConfig {
            enforce_scope: true,
            enforce_new_defaults: true,
            unscoped_is_project: false,
        }
    }
}

/// Why a policy could not be loaded, or a rule name that is not registered.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A check string in the operator's policy file does not parse.
    #[error("policy rule {rule:?} in the policy file is malformed")]
    BadOverride {
        rule: String,
        #[source]
        source: ParseError,
    },
    /// A registered default does not parse (a bug in the service).
    #[error("registered policy default {rule:?} is malformed")]
    BadDefault {
        rule: String,
        #[source]
        source: ParseError,
    },
    /// A policy file entry whose value is not a string (lists are oslo's legacy syntax).
    #[error("policy rule {rule:?} in the policy file must be a string")]
    NotAString { rule: String },
    /// The policy file could not be read.
    #[error("cannot read policy file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The policy file is not a YAML/JSON mapping.
    #[error("policy file {origin} is not a YAML or JSON mapping of rule names to check strings")]
    Syntax {
        origin: String,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// Two defaults share a name (a bug in the service).
    #[error("policy rule {rule:?} is registered twice")]
    Duplicate { rule: String },
    /// A default names a scope other than system, domain or project.
    #[error("policy rule {rule:?} has unknown scope type {scope:?}")]
    BadScopeType { rule: String, scope: String },
    /// Rules that refer to each other in a loop, e.g. `a: rule:b`, `b: rule:a`.
    #[error("policy rules refer to each other in a cycle: {}", .cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },
    /// [`Enforcer::authorize`] was called with a rule the service did not register.
    #[error("policy rule {rule:?} is not registered")]
    NotRegistered { rule: String },
}

/// The operator's rule overrides, from an oslo.policy YAML or JSON file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    rules: HashMap<String, String>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses policy file text: JSON or YAML mapping rule names to check strings. An empty
    /// document means no overrides. Check strings are parsed when the [`Enforcer`] is built.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        Self::parse_from(text, "<text>")
    }

    /// Reads and parses a policy file. Blocking: call it at startup (or on a blocking
    /// thread), not on the async runtime.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_from(&text, &path.display().to_string())
    }

    fn parse_from(text: &str, origin: &str) -> Result<Self, PolicyError> {
        // Like oslo: JSON first, then YAML (which also reads most JSON).
        let map = match serde_json::from_str::<serde_json::Map<String, Value>>(text) {
            Ok(m) => m,
            Err(_) => serde_saphyr::from_str::<Option<serde_json::Map<String, Value>>>(text)
                .map_err(|source| PolicyError::Syntax {
                    origin: origin.to_owned(),
                    source: Box::new(source),
                })?
                .unwrap_or_default(),
        };
        let mut rules = HashMap::with_capacity(map.len());
        for (name, value) in map {
            match value {
                Value::String(s) => {
                    rules.insert(name, s);
                }
                _ => return Err(PolicyError::NotAString { rule: name }),
            }
        }
        Ok(Overrides { rules })
    }

    /// Sets one override.
    pub fn set(&mut self, name: impl Into<String>, check_str: impl Into<String>) -> &mut Self {
        self.rules.insert(name.into(), check_str.into());
        self
    }

    /// The override for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.rules.get(name).map(String::as_str)
    }

    /// Whether there are no overrides.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Why a request was refused, so callers and logs can tell scope from rule failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal<'e> {
    /// The token's scope is not among the rule's `scope_types` (oslo's `InvalidScope`).
    #[error(
        "{rule} requires a scope of {scope_types:?}, request was made with {} scope",
        token_scope.map_or("no", Scope::as_str)
    )]
    Scope {
        rule: &'e str,
        scope_types: &'static [&'static str],
        /// `None` for an unscoped token.
        token_scope: Option<Scope>,
    },
    /// The check string evaluated to false (oslo's `PolicyNotAuthorized`).
    #[error("{rule} is disallowed by policy")]
    Rule { rule: &'e str },
    /// No rule of that name is registered or defined: a bug in the caller.
    #[error("policy rule {rule:?} is not registered")]
    NotRegistered { rule: &'e str },
}

/// Where a rule's effective check string came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Default,
    /// The default OR'ed with its deprecated predecessor (`enforce_new_defaults = false`).
    DefaultOrDeprecated,
    /// The operator's file, under this rule's name or its deprecated name.
    Override,
}

/// One rule in the table; `nodes[i]` is its parsed check.
#[derive(Debug)]
struct Entry {
    name: Box<str>,
    check_str: String,
    /// `None` for rules that exist only in the operator's file.
    default: Option<RuleDefault>,
    /// Parsed `scope_types` of the default.
    scopes: Vec<Scope>,
    origin: Origin,
}

/// The loaded policy of one service: registered defaults, operator overrides, and the
/// parsed, linked rule table that every API call is checked against. Cheap to share
/// (`Arc<Enforcer>`); immutable once built.
pub struct Enforcer {
    index: HashMap<Box<str>, usize>,
    entries: Vec<Entry>,
    nodes: Vec<Node>,
    config: EnforcerConfig,
    forbidden_message: fn(&str) -> String,
}

impl fmt::Debug for Enforcer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enforcer")
            .field("rules", &self.entries.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// oslo.policy's and Nova's 403 text.
fn default_forbidden_message(rule: &str) -> String {
    format!("Policy doesn't allow {rule} to be performed.")
}

impl Enforcer {
    /// An enforcer with the service's defaults only.
    pub fn new(defaults: &[RuleDefault]) -> Result<Self, PolicyError> {
        Self::with_overrides(defaults, &Overrides::new(), EnforcerConfig::default())
    }

    /// An enforcer from the service's defaults, the operator's overrides and switches.
    /// Overrides replace rules by name; names that match no default become extra rules that
    /// others can refer to with `rule:`.
    pub fn with_overrides(
        defaults: &[RuleDefault],
        overrides: &Overrides,
        config: EnforcerConfig,
    ) -> Result<Self, PolicyError> {
        let mut entries = Vec::with_capacity(defaults.len() + overrides.rules.len());
        let mut nodes = Vec::with_capacity(entries.capacity());
        let mut index = HashMap::with_capacity(entries.capacity());

        for d in defaults {
            if index.insert(Box::from(d.name), entries.len()).is_some() {
                return Err(PolicyError::Duplicate {
                    rule: d.name.to_owned(),
                });
            }
            let scopes = d
                .scope_types
                .iter()
                .map(|s| {
                    Scope::parse(s).ok_or_else(|| PolicyError::BadScopeType {
                        rule: d.name.to_owned(),
                        scope: (*s).to_owned(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (check_str, node, origin) = effective_rule(d, overrides, &config)?;
            entries.push(Entry {
                name: d.name.into(),
                check_str,
                default: Some(*d),
                scopes,
                origin,
            });
            nodes.push(node);
        }

        // Operator-only rules, in a stable order.
        let mut extra: Vec<(&String, &String)> = overrides
            .rules
            .iter()
            .filter(|(name, _)| !index.contains_key(name.as_str()))
            .collect();
        extra.sort();
        for (name, check_str) in extra {
            let node = parse::parse(check_str).map_err(|source| PolicyError::BadOverride {
                rule: name.clone(),
                source,
            })?;
            index.insert(name.as_str().into(), entries.len());
            entries.push(Entry {
                name: name.as_str().into(),
                check_str: check_str.clone(),
                default: None,
                scopes: Vec::new(),
                origin: Origin::Override,
            });
            nodes.push(node);
        }

        let mut undefined = Vec::new();
        for (entry, node) in entries.iter().zip(nodes.iter_mut()) {
            link(node, &index, &entry.name, &mut undefined);
        }
        if !undefined.is_empty() {
            // oslo's check_rules warning: such references are simply false.
            tracing::warn!(references = ?undefined, "policy rules refer to undefined rules, which never pass");
        }
        find_cycle(&entries, &nodes)?;

        Ok(Enforcer {
            index,
            entries,
            nodes,
            config,
            forbidden_message: default_forbidden_message,
        })
    }

    /// Replaces the 403 message of [`authorize`](Self::authorize) (default: oslo's "Policy
    /// doesn't allow {rule} to be performed."; Keystone says "You are not authorized to
    /// perform the requested action: {rule}.").
    pub fn with_forbidden_message(mut self, message: fn(&str) -> String) -> Self {
        self.forbidden_message = message;
        self
    }

    /// Checks `rule` for the caller against `target` and says why it refused. Works for
    /// registered defaults and for rules defined only in the operator's file.
    pub fn check<'e>(
        &'e self,
        rule: &'e str,
        creds: &Credentials<'_>,
        target: &Value,
    ) -> Result<(), Refusal<'e>> {
        let i = self.slot(rule)?;
        self.scope_ok(i, rule, creds.user)?;
        let ctx = eval::Ctx {
            creds,
            target,
            rules: &self.nodes,
        };
        if self.nodes.get(i).is_some_and(|n| eval::eval(n, &ctx)) {
            Ok(())
        } else {
            Err(Refusal::Rule { rule })
        }
    }

    /// Only the scope part of [`check`](Self::check): whether a token of `auth`'s scope may
    /// use `rule` at all.
    pub fn check_scope<'e>(&'e self, rule: &'e str, auth: &AuthInfo) -> Result<(), Refusal<'e>> {
        let i = self.slot(rule)?;
        self.scope_ok(i, rule, auth)
    }

    /// Whether the caller may perform `rule` on `target`. An unknown rule is refused (and
    /// logged as the bug it is).
    pub fn enforce(&self, rule: &str, creds: &AuthInfo, target: &Value) -> bool {
        match self.check(rule, &Credentials::from(creds), target) {
            Ok(()) => true,
            Err(Refusal::NotRegistered { rule }) => {
                tracing::error!(rule, "policy check of an unregistered rule");
                false
            }
            Err(why) => {
                tracing::debug!(reason = %why, "policy refused");
                false
            }
        }
    }

    /// Like [`enforce`](Self::enforce), as a `Result` for handlers: a refusal is a 403 with
    /// the service's message; a rule that is not a registered default is a 500, since
    /// calling it is a programming error (oslo's `PolicyNotRegistered`).
    pub fn authorize(&self, rule: &str, creds: &AuthInfo, target: &Value) -> Result<(), Error> {
        self.authorize_as(rule, &Credentials::from(creds), target)
    }

    /// [`authorize`](Self::authorize) with explicit [`Credentials`], e.g. to include the
    /// request's service token.
    pub fn authorize_as(
        &self,
        rule: &str,
        creds: &Credentials<'_>,
        target: &Value,
    ) -> Result<(), Error> {
        let registered = self
            .index
            .get(rule)
            .and_then(|&i| self.entries.get(i))
            .is_some_and(|e| e.default.is_some());
        if !registered {
            return Err(Error::internal(
                "policy",
                PolicyError::NotRegistered {
                    rule: rule.to_owned(),
                },
            ));
        }
        match self.check(rule, creds, target) {
            Ok(()) => Ok(()),
            Err(why) => {
                tracing::debug!(reason = %why, user_id = %creds.user.user_id, "policy refused");
                Err(Error::forbidden((self.forbidden_message)(rule)))
            }
        }
    }

    /// The registered defaults, in registration order.
    pub fn defaults(&self) -> impl Iterator<Item = &RuleDefault> {
        self.entries.iter().filter_map(|e| e.default.as_ref())
    }

    /// The check string in effect for `rule` (after overrides and deprecations).
    pub fn effective_check_str(&self, rule: &str) -> Option<&str> {
        let i = *self.index.get(rule)?;
        self.entries.get(i).map(|e| e.check_str.as_str())
    }

    /// Whether the operator's file decides `rule` (under its name or its deprecated name).
    pub fn is_overridden(&self, rule: &str) -> bool {
        self.index
            .get(rule)
            .and_then(|&i| self.entries.get(i))
            .is_some_and(|e| e.origin == Origin::Override)
    }

    fn slot<'e>(&self, rule: &'e str) -> Result<usize, Refusal<'e>> {
        self.index
            .get(rule)
            .copied()
            .ok_or(Refusal::NotRegistered { rule })
    }

    fn scope_ok<'e>(&'e self, i: usize, rule: &'e str, auth: &AuthInfo) -> Result<(), Refusal<'e>> {
        let Some(entry) = self.entries.get(i) else {
            return Err(Refusal::NotRegistered { rule });
        };
        let Some(default) = entry.default.as_ref().filter(|_| !entry.scopes.is_empty()) else {
            return Ok(());
        };
        let mut token_scope = Scope::of(auth);
        if token_scope.is_none() && self.config.unscoped_is_project {
            token_scope = Some(Scope::Project);
        }
        if token_scope.is_some_and(|s| entry.scopes.contains(&s)) {
            return Ok(());
        }
        let refusal = Refusal::Scope {
            rule,
            scope_types: default.scope_types,
            token_scope,
        };
        if self.config.enforce_scope {
            Err(refusal)
        } else {
            tracing::warn!(reason = %refusal, "policy scope mismatch allowed (enforce_scope is off)");
            Ok(())
        }
    }
}

/// Decides a default's effective check, following oslo's handling of deprecated rules.
fn effective_rule(
    d: &RuleDefault,
    overrides: &Overrides,
    config: &EnforcerConfig,
) -> Result<(String, Node, Origin), PolicyError> {
    let bad_override = |rule: &str| {
        let rule = rule.to_owned();
        move |source| PolicyError::BadOverride { rule, source }
    };
    if let Some(s) = overrides.get(d.name) {
        let node = parse::parse(s).map_err(bad_override(d.name))?;
        return Ok((s.to_owned(), node, Origin::Override));
    }
    let parse_default = |s: &str| {
        parse::parse(s).map_err(|source| PolicyError::BadDefault {
            rule: d.name.to_owned(),
            source,
        })
    };
    let new = parse_default(d.check_str)?;
    let Some(dep) = d.deprecated else {
        return Ok((d.check_str.to_owned(), new, Origin::Default));
    };
    // An operator who customised the old name keeps their rule under the new name, unless
    // the override merely points at the new rule or restates the old default.
    if dep.name != d.name
        && let Some(s) = overrides.get(dep.name)
    {
        let restates_old = s.trim() == dep.check_str.trim();
        let points_to_new = s.trim() == format!("rule:{}", d.name);
        if !restates_old && !points_to_new {
            tracing::warn!(
                deprecated = dep.name,
                rule = d.name,
                "policy file overrides a deprecated rule name; applying it to the new name"
            );
            let node = parse::parse(s).map_err(bad_override(dep.name))?;
            return Ok((s.to_owned(), node, Origin::Override));
        }
    }
    if !config.enforce_new_defaults && dep.check_str != d.check_str {
        let old = parse_default(dep.check_str)?;
        let check_str = format!("({}) or ({})", d.check_str, dep.check_str);
        return Ok((
            check_str,
            Node::Or(vec![new, old]),
            Origin::DefaultOrDeprecated,
        ));
    }
    Ok((d.check_str.to_owned(), new, Origin::Default))
}

/// Resolves `rule:` references to table indices; unresolved ones stay `None` (never pass).
fn link(
    node: &mut Node,
    index: &HashMap<Box<str>, usize>,
    owner: &str,
    undefined: &mut Vec<String>,
) {
    match node {
        Node::Rule { name, slot } => {
            *slot = index.get(&**name).copied();
            if slot.is_none() {
                undefined.push(format!("{owner} -> {name}"));
            }
        }
        Node::Not(n) => link(n, index, owner, undefined),
        Node::And(items) | Node::Or(items) => {
            for n in items {
                link(n, index, owner, undefined);
            }
        }
        Node::Always | Node::Never | Node::Role(_) | Node::Generic { .. } => {}
    }
}

/// Fails on the first cycle of `rule:` references (which would recurse forever).
fn find_cycle(entries: &[Entry], nodes: &[Node]) -> Result<(), PolicyError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn refs(node: &Node, out: &mut Vec<usize>) {
        match node {
            Node::Rule { slot: Some(i), .. } => out.push(*i),
            Node::Not(n) => refs(n, out),
            Node::And(items) | Node::Or(items) => items.iter().for_each(|n| refs(n, out)),
            _ => {}
        }
    }
    fn visit(
        i: usize,
        nodes: &[Node],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        match marks.get(i).copied() {
            Some(Mark::Done) | None => return None,
            Some(Mark::Active) => {
                let start = stack.iter().position(|&s| s == i).unwrap_or(0);
                let mut cycle = stack.get(start..).unwrap_or_default().to_vec();
                cycle.push(i);
                return Some(cycle);
            }
            Some(Mark::New) => {}
        }
        marks[i] = Mark::Active;
        stack.push(i);
        let mut next = Vec::new();
        if let Some(n) = nodes.get(i) {
            refs(n, &mut next);
        }
        for j in next {
            if let Some(c) = visit(j, nodes, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks[i] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; nodes.len()];
    for i in 0..nodes.len() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(i, nodes, &mut marks, &mut stack) {
            return Err(PolicyError::Cycle {
                cycle: cycle
                    .into_iter()
                    .filter_map(|i| entries.get(i).map(|e| e.name.to_string()))
                    .collect(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
