//! `/v1/{account}/{container}`: create (PUT), statistics and the object listing (HEAD,
//! GET, or a static web site), metadata (POST) and DELETE.

use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;

use super::listing::{self, delimiter, list_query, listing_format};
use super::{
    AppState, empty, hdr, http_date, meta_headers, method_not_allowed, plain_headers, query_map,
    staticweb,
};
use crate::app::Op;
use crate::app::meta::{check_container_name, not_found};
use crate::app::time::x_timestamp;

pub(super) async fn container(
    State(app): AppState,
    ctx: RequestContext,
    Path((account, cname)): Path<(String, String)>,
    req: Request,
) -> Result<Response> {
    let method = req.method().clone();
    let q = query_map(req.uri().query());
    let h = req.headers().clone();
    check_container_name(&cname)?;
    let existing = app.container_get(&account, &cname).await?;
    match method {
        Method::PUT => {
            app.authorize(&ctx, &account, Op::Owner, None)?;
            let created = app
                .container_put(&account, &cname, existing, &plain_headers(&h))
                .await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::ACCEPTED
            };
            Ok(empty(status, vec![]))
        }
        Method::HEAD | Method::GET => {
            let c = existing.ok_or_else(not_found)?;
            let head = method == Method::HEAD;
            let web_mode = hdr(&h, "x-web-mode").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if let Some(site) = app.static_web(&ctx, &account, &c, web_mode).await? {
                return staticweb::render(&app, &c, site, &h, head).await;
            }
            app.authorize(&ctx, &account, Op::List, Some(&c.meta))?;
            let stats = app.container_stats(&c).await?;
            let mut headers = vec![
                ("x-container-object-count".into(), stats.count.to_string()),
                ("x-container-bytes-used".into(), stats.bytes.to_string()),
                ("x-timestamp".into(), x_timestamp(c.created_at)),
                ("x-put-timestamp".into(), x_timestamp(c.updated_at)),
                ("last-modified".into(), http_date(c.updated_at)),
                ("x-storage-policy".into(), "Policy-0".into()),
                ("accept-ranges".into(), "bytes".into()),
            ];
            let owner = app.is_owner(&ctx, &account);
            headers.extend(
                meta_headers(&c.meta).into_iter().filter(|(k, _)| {
                    owner || !(k == "x-container-read" || k == "x-container-write")
                }),
            );
            let fmt = listing_format(&q, &h);
            let mut lq = list_query(&q, app.config.container_listing_limit)?;
            let mut delimiter = delimiter(&q);
            if let Some(p) = q.get("path") {
                let p = p.trim_end_matches('/');
                lq.prefix = if p.is_empty() {
                    None
                } else {
                    Some(format!("{p}/"))
                };
                delimiter = Some("/".into());
            }
            let entries = app
                .container_listing(&account, &c, lq, delimiter.as_deref())
                .await?;
            listing::container_listing(&c, entries, fmt, headers, head)
        }
        Method::POST => {
            let c = existing.ok_or_else(not_found)?;
            app.authorize(&ctx, &account, Op::Owner, None)?;
            app.container_update(&c, &plain_headers(&h)).await?;
            Ok(empty(StatusCode::NO_CONTENT, vec![]))
        }
        Method::DELETE => {
            app.authorize(&ctx, &account, Op::Owner, None)?;
            app.container_delete(&account, &cname).await?;
            Ok(empty(StatusCode::NO_CONTENT, vec![]))
        }
        _ => Err(method_not_allowed()),
    }
}
