//! The image service's logic: Glance's rules for images, their data, tags and members,
//! metadata definitions and tasks, and
//! authorization through the policy engine. Handlers call one method here; this layer calls
//! the SQL [`Store`] and the [`DataStore`].

mod data;
mod images;
mod members;
mod metadefs;
pub mod query;
mod tasks;

use std::sync::Arc;

use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::policy::Enforcer;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use crate::config::ImageConfig;
use crate::data::DataStore;
use crate::model::Image;
use crate::store::Store;

pub use data::{Download, Range};
pub use images::{Change, Op};
pub use metadefs::{NamespaceDetail, NamespaceListParams, NamespaceSpec, namespace_spec};
pub use query::ListParams;

/// The image application.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub data: Arc<dyn DataStore>,
    pub config: ImageConfig,
    pub policy: Enforcer,
    /// `http://host:9292`: the base of version discovery links.
    pub public_url: String,
}

/// The import methods this site offers (Glance's `enabled_import_methods`). `web-download`
/// is not enabled: the service fetches nothing from the network on a user's behalf.
pub const IMPORT_METHODS: &[&str] = &["glance-direct"];

/// 404 in Glance's words.
pub fn image_not_found(id: &str) -> Error {
    Error::not_found(format!("No image found with ID {id}"))
}

impl App {
    /// The authenticated caller; 401 without a token.
    pub fn caller<'a>(&self, ctx: &'a RequestContext) -> Result<&'a AuthInfo> {
        Ok(ctx.require_auth()?.as_ref())
    }

    /// Whether the caller is an admin (Glance's `context.is_admin`: the `context_is_admin`
    /// rule).
    pub fn is_admin(&self, auth: &AuthInfo) -> bool {
        self.policy.enforce("context_is_admin", auth, &json!({}))
    }

    /// Checks a rule that has no image to act on (list, create).
    pub fn authorize(&self, auth: &AuthInfo, rule: &str, target: &Value) -> Result<()> {
        self.policy.authorize(rule, auth, target)
    }

    /// The policy target of an image, as Glance's `ImageTarget` presents it.
    pub fn image_target(&self, auth: &AuthInfo, im: &Image) -> Value {
        let mut t = json!({
            "id": im.id,
            "project_id": im.owner,
            "owner": im.owner,
            "visibility": im.visibility,
            "protected": im.protected,
            "status": im.status,
        });
        // Glance sets `member` only for a shared image found through a membership.
        if im.visibility == "shared"
            && let Some(p) = &auth.project_id
            && im.owner.as_deref() != Some(p.as_str())
        {
            t["member_id"] = json!(p);
        }
        t
    }

    /// Enforces `rule` on an image the caller can see; a refusal on an image the caller may
    /// not even read is a 404, so that private images do not reveal their existence
    /// (Glance's `ImageAPIPolicy._enforce`).
    pub fn authorize_image(&self, auth: &AuthInfo, rule: &str, im: &Image) -> Result<()> {
        let target = self.image_target(auth, im);
        match self.policy.authorize(rule, auth, &target) {
            Ok(()) => Ok(()),
            Err(e) if e.kind == oxstack_common::error::ErrorKind::Forbidden => {
                if rule == "get_image" || !self.policy.enforce("get_image", auth, &target) {
                    Err(image_not_found(&im.id))
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the database layer lets the caller see `im` (Glance's `is_image_visible`).
    async fn is_visible(&self, auth: &AuthInfo, im: &Image) -> Result<bool> {
        if self.is_admin(auth) {
            return Ok(true);
        }
        let Some(owner) = &im.owner else {
            return Ok(true);
        };
        if matches!(im.visibility.as_str(), "public" | "community") {
            return Ok(true);
        }
        let Some(project) = &auth.project_id else {
            return Ok(false);
        };
        if owner == project {
            return Ok(true);
        }
        if im.visibility == "shared" {
            return Ok(self.store.member_get(&im.id, project).await?.is_some());
        }
        Ok(false)
    }

    /// The image `id` if the caller can see it, else 404.
    pub async fn image_lookup(&self, auth: &AuthInfo, id: &str) -> Result<Image> {
        let im = self
            .store
            .image_get(id)
            .await?
            .ok_or_else(|| image_not_found(id))?;
        if !self.is_visible(auth, &im).await? {
            return Err(image_not_found(id));
        }
        Ok(im)
    }

    /// The image `id`, visible to the caller and passing `rule`.
    pub async fn image_for(&self, ctx: &RequestContext, id: &str, rule: &str) -> Result<Image> {
        let auth = self.caller(ctx)?;
        let im = self.image_lookup(auth, id).await?;
        self.authorize_image(auth, "get_image", &im)?;
        if rule != "get_image" {
            self.authorize_image(auth, rule, &im)?;
        }
        Ok(im)
    }
}

/// Now, in the stores' microseconds.
pub fn now() -> i64 {
    oxstack_common::time::now().timestamp_micros()
}

/// Glance's timestamp format: `2026-01-01T00:00:00Z`.
pub fn isotime(micros: i64) -> String {
    oxstack_common::time::iso_seconds(oxstack_common::time::micros_to_time(micros))
}

/// A limit of -1 means unlimited.
pub(crate) fn limit_of(v: i64) -> Option<u64> {
    u64::try_from(v).ok()
}
