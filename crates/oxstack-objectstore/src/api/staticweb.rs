//! Static web on the wire: the index object served as an object GET, or the HTML listing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use oxstack_common::{Error, Result};

use super::body_unless;
use super::listing::xml_escape;
use super::object::object_get;
use crate::app::App;
use crate::app::staticweb::StaticWeb;
use crate::app::time::iso_date;
use crate::store::{Container, Object};

pub(super) async fn render(
    app: &Arc<App>,
    c: &Container,
    site: StaticWeb,
    h: &HeaderMap,
    head: bool,
) -> Result<Response> {
    match site {
        StaticWeb::Index(o) => object_get(app, &o, h, &BTreeMap::new(), head).await,
        StaticWeb::Listing(objects) => {
            let html = listing_html(c, &objects);
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/html; charset=UTF-8")
                .header(header::CONTENT_LENGTH, html.len().to_string())
                .body(body_unless(head, || Body::from(html)))
                .map_err(|e| Error::internal("response", e))
        }
    }
}

/// The HTML listing of a container (styled by `X-Container-Meta-Web-Listings-CSS`).
fn listing_html(c: &Container, objects: &[Object]) -> String {
    let css = c
        .meta
        .get("x-container-meta-web-listings-css")
        .map(|href| {
            format!(
                "  <link rel=\"stylesheet\" type=\"text/css\" href=\"{}\" />\n",
                xml_escape(href)
            )
        })
        .unwrap_or_default();
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n <head>\n  <title>Listing of /{0}/</title>\n{css} </head>\n <body>\n  <h1>Listing of /{0}/</h1>\n  <table>\n",
        xml_escape(&c.name)
    );
    for o in objects {
        html.push_str(&format!(
            "   <tr><td class=\"colname\"><a href=\"{0}\">{0}</a></td><td class=\"colsize\">{1}</td><td class=\"coldate\">{2}</td></tr>\n",
            xml_escape(&o.name), o.size, iso_date(o.created_at)
        ));
    }
    html.push_str("  </table>\n </body>\n</html>\n");
    html
}
