//! `/v1/{account}`: statistics and the container listing (HEAD, GET), metadata and quotas
//! (POST); bulk delete and archive extraction are dispatched from here.

use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use super::listing::{self, delimiter, list_query, listing_format};
use super::{AppState, bulk, empty, meta_headers, method_not_allowed, plain_headers, query_map};
use crate::app::Op;
use crate::app::time::x_timestamp;

pub(super) async fn account(
    State(app): AppState,
    ctx: RequestContext,
    Path(account): Path<String>,
    req: Request,
) -> Result<Response> {
    let method = req.method().clone();
    let q = query_map(req.uri().query());
    let h = req.headers().clone();
    if (method == Method::POST || method == Method::DELETE) && q.contains_key("bulk-delete") {
        return bulk::bulk_delete(app, ctx, account, req).await;
    }
    if method == Method::PUT
        && let Some(fmt) = q.get("extract-archive")
    {
        return bulk::extract_archive(app, ctx, account, fmt, req).await;
    }
    app.authorize(&ctx, &account, Op::Owner, None)?;
    match method {
        Method::HEAD | Method::GET => {
            let info = app.account_info(&account).await?;
            let (containers, stats) = (info.containers, info.stats);
            let created = x_timestamp(info.account.created_at);
            let mut headers = vec![
                ("x-account-container-count".into(), containers.to_string()),
                ("x-account-object-count".into(), stats.count.to_string()),
                ("x-account-bytes-used".into(), stats.bytes.to_string()),
                ("x-timestamp".into(), created.clone()),
                ("x-put-timestamp".into(), created),
                ("accept-ranges".into(), "bytes".into()),
            ];
            if containers > 0 {
                for (k, v) in [
                    ("bytes-used", stats.bytes),
                    ("object-count", stats.count),
                    ("container-count", containers),
                ] {
                    headers.push((
                        format!("x-account-storage-policy-policy-0-{k}"),
                        v.to_string(),
                    ));
                }
            }
            headers.extend(meta_headers(&info.account.meta));
            let fmt = listing_format(&q, &h);
            let lq = list_query(&q, app.config.account_listing_limit)?;
            let entries = app
                .account_listing(&account, &lq, delimiter(&q).as_deref())
                .await?;
            Ok(listing::account_listing(
                &account,
                entries,
                fmt,
                headers,
                method == Method::HEAD,
            ))
        }
        Method::POST => {
            app.account_update(&ctx, &account, &plain_headers(&h))
                .await?;
            Ok(empty(StatusCode::NO_CONTENT, vec![]))
        }
        Method::PUT | Method::DELETE => Err(Error::new(
            ErrorKind::MethodNotAllowed,
            "Account management is not allowed.",
        )),
        _ => Err(method_not_allowed()),
    }
}
