//! Container ACLs as Swift's keystoneauth reads them: `X-Container-Read` and
//! `X-Container-Write` are comma-separated lists of `.r:<referrer>` (`.r:*` = anyone),
//! `.rlistings` (the container may be listed by those who may read), `<project>:<user>`
//! (ids or names, `*` for any) and role names.

use oxstack_common::context::AuthInfo;

/// One ACL header value, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// `.r:*` (or another referrer; only `*` can match, requests carry no trusted referrer).
    pub public: bool,
    pub listings: bool,
    pub grants: Vec<String>,
}

impl Acl {
    pub fn parse(value: Option<&str>) -> Acl {
        let mut acl = Acl::default();
        for item in value.unwrap_or_default().split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            if let Some(r) = item
                .strip_prefix(".r:")
                .or_else(|| item.strip_prefix(".referrer:"))
            {
                if r == "*" || r == ".*" {
                    acl.public = true;
                }
            } else if item == ".rlistings" {
                acl.listings = true;
            } else {
                acl.grants.push(item.to_string());
            }
        }
        acl
    }

    /// Whether a grant names this user (by `project:user`, ids or names, `*` wildcards) or
    /// one of their roles.
    pub fn grants_user(&self, a: &AuthInfo) -> bool {
        let pid = a.project_id.as_deref().unwrap_or_default();
        let pname = a.project_name.as_deref().unwrap_or_default();
        self.grants.iter().any(|g| match g.split_once(':') {
            Some((p, u)) => {
                (p == "*" || (!pid.is_empty() && p == pid) || (!pname.is_empty() && p == pname))
                    && (u == "*" || u == a.user_id || u == a.user_name)
            }
            None => a.has_role(g),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_forms() {
        let a = AuthInfo {
            user_id: "u1".into(),
            user_name: "alice".into(),
            project_id: Some("p1".into()),
            project_name: Some("proj".into()),
            ..Default::default()
        };
        let acl = Acl::parse(Some(".r:*,.rlistings, p1:u1"));
        assert!(acl.public && acl.listings && acl.grants_user(&a));
        assert!(Acl::parse(Some("proj:alice")).grants_user(&a));
        assert!(Acl::parse(Some("*:u1")).grants_user(&a));
        assert!(!Acl::parse(Some("p2:u1")).grants_user(&a));
        assert!(!Acl::parse(Some("p1:u2")).grants_user(&a));
        assert!(!Acl::parse(None).public);
    }
}
