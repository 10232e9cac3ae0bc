//! Swift's `staticweb`: a public container answers anonymous callers (or any caller with
//! `X-Web-Mode: true`) with its index object (`X-Container-Meta-Web-Index`) or an HTML
//! listing (`X-Container-Meta-Web-Listings`).

use oxstack_common::Result;
use oxstack_common::context::RequestContext;

use crate::acl::Acl;
use crate::app::{App, now_us};
use crate::store::{Container, ListQuery, Object};

/// What a container GET serves as a web site.
#[derive(Debug)]
pub enum StaticWeb {
    /// The index object.
    Index(Object),
    /// The container's objects, for an HTML listing.
    Listing(Vec<Object>),
}

/// Whether `X-Container-Meta-Web-Listings` turns listings on.
pub fn listings_enabled(c: &Container) -> bool {
    c.meta
        .get("x-container-meta-web-listings")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1"))
}

impl App {
    /// What the container serves as a web site to this caller; `None` when static web
    /// does not apply (not web mode, not public, or neither index nor listings).
    pub async fn static_web(
        &self,
        ctx: &RequestContext,
        account: &str,
        c: &Container,
        web_mode_asked: bool,
    ) -> Result<Option<StaticWeb>> {
        let web_mode = ctx.auth.is_none() || web_mode_asked;
        let public = Acl::parse(c.meta.get("x-container-read").map(String::as_str)).public;
        if !web_mode || !public {
            return Ok(None);
        }
        if let Some(index) = c.meta.get("x-container-meta-web-index")
            && let Some(o) = self.object_live(account, &c.name, index).await?
        {
            return Ok(Some(StaticWeb::Index(o)));
        }
        if !listings_enabled(c) {
            return Ok(None);
        }
        let q = ListQuery {
            limit: self.config.container_listing_limit,
            ..Default::default()
        };
        let objects = self
            .store
            .object_list(account, &c.name, &q, now_us())
            .await?;
        Ok(Some(StaticWeb::Listing(objects)))
    }
}
