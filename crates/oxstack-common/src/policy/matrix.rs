//! The secure-RBAC personas (admin, member, reader at system, domain and project scope) and
//! the role × operation matrix that services print in snapshot tests, so that any change to
//! who may do what shows up in review as a diff.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::creds::{Credentials, Scope};
use super::{Enforcer, Refusal};
use crate::context::{AuthInfo, RoleRef};

/// The domain every persona's user, project and domain scope belong to.
pub const PERSONA_DOMAIN_ID: &str = "persona-domain";
/// The project every project-scoped persona is scoped to.
pub const PERSONA_PROJECT_ID: &str = "persona-project";

/// One of the nine standard personas: a default role held at one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persona {
    /// The token's scope.
    pub scope: Scope,
    /// `admin`, `member` or `reader`.
    pub role: &'static str,
}

impl Persona {
    /// The default roles, strongest first; each implies the ones after it (Keystone's
    /// default implied roles: admin ⇒ member ⇒ reader).
    pub const ROLES: [&'static str; 3] = ["admin", "member", "reader"];

    /// All nine personas: system, domain, project × admin, member, reader.
    pub fn all() -> impl Iterator<Item = Persona> {
        Scope::ALL.into_iter().flat_map(|scope| {
            Persona::ROLES
                .into_iter()
                .map(move |role| Persona { scope, role })
        })
    }

    /// E.g. `system-admin`, `project-reader`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.scope, self.role)
    }

    /// A token for this persona, as Keystone would issue it (implied roles expanded). The
    /// user is `persona-<scope>-<role>` in [`PERSONA_DOMAIN_ID`].
    pub fn auth_info(&self) -> AuthInfo {
        let roles = Persona::ROLES
            .iter()
            .skip_while(|r| **r != self.role)
            .map(|r| RoleRef {
                id: format!("{r}-role-id"),
                name: (*r).to_owned(),
            })
            .collect();
        let mut a = AuthInfo {
            user_id: format!("persona-{}", self.label()),
            user_name: self.label(),
            user_domain_id: PERSONA_DOMAIN_ID.to_owned(),
            user_domain_name: PERSONA_DOMAIN_ID.to_owned(),
            roles,
            methods: vec!["password".to_owned()],
            ..AuthInfo::default()
        };
        match self.scope {
            Scope::System => a.system_scope = Some("all".to_owned()),
            Scope::Domain => {
                a.domain_id = Some(PERSONA_DOMAIN_ID.to_owned());
                a.domain_name = Some(PERSONA_DOMAIN_ID.to_owned());
            }
            Scope::Project => {
                a.project_id = Some(PERSONA_PROJECT_ID.to_owned());
                a.project_name = Some(PERSONA_PROJECT_ID.to_owned());
                a.project_domain_id = Some(PERSONA_DOMAIN_ID.to_owned());
                a.project_domain_name = Some(PERSONA_DOMAIN_ID.to_owned());
            }
        }
        a
    }
}

/// A target owned by the personas' project and domain, under the keys policies commonly use
/// (`project_id`, `tenant_id`, `domain_id`, and Keystone's `target.domain_id` and
/// `target.<kind>.*`). The target user
/// is another user of the personas' domain, so `user_id:` ownership checks do not pass.
pub fn owned_target() -> Value {
    json!({
        "project_id": PERSONA_PROJECT_ID,
        "tenant_id": PERSONA_PROJECT_ID,
        "domain_id": PERSONA_DOMAIN_ID,
        "target": {
            // Keystone's list filters (`GET /v3/users?domain_id=`).
            "domain_id": PERSONA_DOMAIN_ID,
            "project": {"id": PERSONA_PROJECT_ID, "domain_id": PERSONA_DOMAIN_ID},
            "domain": {"id": PERSONA_DOMAIN_ID},
            "user": {"id": "another-user", "domain_id": PERSONA_DOMAIN_ID},
            "group": {"id": "a-group", "domain_id": PERSONA_DOMAIN_ID},
        },
    })
}

impl Enforcer {
    /// Renders, for every registered default, which personas pass it: `+` allowed, `-`
    /// refused by the rule, `s` refused because of the token's scope. `target_for` gives the
    /// target each rule is checked against (often `|_| owned_target()`).
    ///
    /// ```text
    /// legend: + allowed, - denied by rule, s denied by scope; each scope: admin member reader
    /// rule               system domain project  operations
    /// identity:get_user  +++    +++    ---      GET /v3/users/{user_id}
    /// ```
    pub fn persona_matrix(&self, target_for: impl Fn(&str) -> Value) -> String {
        let personas: Vec<(Persona, AuthInfo)> =
            Persona::all().map(|p| (p, p.auth_info())).collect();
        let width = self
            .defaults()
            .map(|d| d.name.len())
            .max()
            .unwrap_or(0)
            .max("rule".len());
        let mut out = String::from(
            "legend: + allowed, - denied by rule, s denied by scope; each scope: admin member reader\n",
        );
        let _ = writeln!(out, "{:width$}  system domain project  operations", "rule");
        for d in self.defaults() {
            let target = target_for(d.name);
            let _ = write!(out, "{:width$}  ", d.name);
            for scope in Scope::ALL {
                for (_, auth) in personas.iter().filter(|(p, _)| p.scope == scope) {
                    let mark = match self.check(d.name, &Credentials::from(auth), &target) {
                        Ok(()) => '+',
                        Err(Refusal::Scope { .. }) => 's',
                        Err(_) => '-',
                    };
                    out.push(mark);
                }
                let pad = scope.as_str().len().saturating_sub(3) + 1;
                out.extend(std::iter::repeat_n(' ', pad));
            }
            let ops: Vec<String> = d
                .operations
                .iter()
                .map(|(m, p)| format!("{m} {p}"))
                .collect();
            let _ = writeln!(out, " {}", ops.join(", "));
        }
        // Rows without operations end in spaces; keep snapshots free of trailing whitespace.
        out.lines()
            .map(str::trim_end)
            .fold(String::new(), |mut acc, l| {
                acc.push_str(l);
                acc.push('\n');
                acc
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personas_carry_implied_roles_and_their_scope() {
        let all: Vec<Persona> = Persona::all().collect();
        assert_eq!(all.len(), 9);
        let admin = Persona {
            scope: Scope::Project,
            role: "admin",
        }
        .auth_info();
        let names: Vec<&str> = admin.roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["admin", "member", "reader"]);
        assert_eq!(Scope::of(&admin), Some(Scope::Project));
        let reader = Persona {
            scope: Scope::Domain,
            role: "reader",
        }
        .auth_info();
        assert_eq!(reader.roles.len(), 1);
        assert_eq!(Scope::of(&reader), Some(Scope::Domain));
    }
}
