use super::*;
use axum::http::Method;
use axum::routing::post;
use tower::ServiceExt;

#[derive(Debug, serde::Deserialize)]
struct Body1 {
    #[allow(dead_code)]
    n: u32,
}

fn app(style: ErrorStyle) -> Router {
    let r = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route(
            "/missing",
            get(|| async { Error::not_found("Could not find widget: w1.") }),
        )
        .route(
            "/boom",
            get(|| async { Error::internal("database", std::io::Error::other("secret detail")) }),
        )
        .route(
            "/json",
            post(|Json(b): Json<Body1>| async move { Json(serde_json::json!({"n": b.n})) }),
        )
        .route(
            "/panic",
            get(|| async {
                let v: Vec<u8> = Vec::new();
                #[allow(clippy::indexing_slicing)]
                let x = v[1];
                x.to_string()
            }),
        )
        .route("/ctx", get(|c: RequestContext| async move { c.ids.local }));
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: 64,
        auth: None,
        identity_url: None,
    };
    stack.wrap("test", style, r)
}

async fn call(
    style: ErrorStyle,
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let resp = app(style).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).expect("json body")
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let (s, h, body) = call(ErrorStyle::Keystone, Method::GET, "/ctx", "").await;
    assert_eq!(s, 200);
    let id = h.get(&REQUEST_ID).expect("header").to_str().expect("ascii");
    assert!(is_request_id(id));
    assert_eq!(body, id, "handler sees the same id");
    let (_, h, _) = call(ErrorStyle::Keystone, Method::GET, "/nope", "").await;
    assert!(h.get(&REQUEST_ID).is_some());
}

#[tokio::test]
async fn keystone_shape() {
    let (s, _, b) = call(ErrorStyle::Keystone, Method::GET, "/missing", "").await;
    assert_eq!(s, 404);
    assert_eq!(
        json(&b),
        serde_json::json!({"error": {"code": 404, "title": "Not Found", "message": "Could not find widget: w1."}})
    );
}

#[tokio::test]
async fn nova_and_neutron_shapes() {
    let (s, _, b) = call(ErrorStyle::Nova, Method::GET, "/missing", "").await;
    assert_eq!(s, 404);
    assert_eq!(json(&b)["itemNotFound"]["code"], 404);
    let (_, _, b) = call(ErrorStyle::Neutron, Method::GET, "/missing", "").await;
    assert_eq!(json(&b)["NeutronError"]["type"], "HTTPNotFound");
    let (_, _, b) = call(ErrorStyle::Placement, Method::GET, "/missing", "").await;
    assert!(
        json(&b)["errors"][0]["request_id"]
            .as_str()
            .expect("id")
            .starts_with("req-")
    );
}

#[tokio::test]
async fn unknown_route_and_wrong_method() {
    let (s, _, b) = call(ErrorStyle::Keystone, Method::GET, "/nope", "").await;
    assert_eq!(s, 404);
    assert_eq!(json(&b)["error"]["code"], 404);
    let (s, _, b) = call(ErrorStyle::Keystone, Method::DELETE, "/ok", "").await;
    assert_eq!(s, 405);
    assert_eq!(json(&b)["error"]["code"], 405);
}

#[tokio::test]
async fn malformed_json_is_400_and_too_large_is_413() {
    let (s, _, b) = call(ErrorStyle::Nova, Method::POST, "/json", "{not json").await;
    assert_eq!(s, 400);
    assert!(
        json(&b)["badRequest"]["message"]
            .as_str()
            .expect("msg")
            .contains("Malformed")
    );
    let (s, _, _) = call(ErrorStyle::Nova, Method::POST, "/json", "{\"n\": -1}").await;
    assert_eq!(s, 400);
    let big = format!("{{\"n\": 1, \"pad\": \"{}\"}}", "x".repeat(100));
    let (s, _, _) = call(ErrorStyle::Nova, Method::POST, "/json", &big).await;
    assert_eq!(s, 413);
    let (s, _, b) = call(ErrorStyle::Nova, Method::POST, "/json", "{\"n\": 5}").await;
    assert_eq!((s.as_u16(), json(&b)["n"].as_u64()), (200, Some(5)));
}

#[tokio::test]
async fn internal_errors_and_panics_are_500_without_detail() {
    for uri in ["/boom", "/panic"] {
        let (s, _, b) = call(ErrorStyle::Keystone, Method::GET, uri, "").await;
        assert_eq!(s, 500, "{uri}");
        assert!(!b.contains("secret"), "{b}");
        assert_eq!(json(&b)["error"]["code"], 500);
    }
}

#[tokio::test]
async fn plain_text_style_and_metrics() {
    let (s, h, b) = call(ErrorStyle::PlainText, Method::GET, "/missing", "").await;
    assert_eq!(s, 404);
    assert!(
        h.get("content-type")
            .expect("ct")
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    assert!(b.starts_with("404 Not Found"));
    let router = app(ErrorStyle::Keystone);
    for uri in ["/ok", "/metrics"] {
        let req = Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        let resp = router.clone().oneshot(req).await.expect("infallible");
        assert_eq!(resp.status(), 200);
        if uri == "/metrics" {
            let b = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .expect("body");
            let b = String::from_utf8_lossy(&b);
            assert!(b.contains("route=\"/ok\""), "{b}");
        }
    }
}
