//! Image data through the HTTP API: upload and download with checksums, ranges, limits,
//! interrupted uploads, and interoperable import.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use bytes::Bytes;
use common::*;
use md5::Digest as _;
use serde_json::json;

fn sample(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 256) as u8).collect()
}

fn qcow2(virtual_size: u64) -> Vec<u8> {
    let mut h = b"QFI\xfb".to_vec();
    h.extend_from_slice(&3u32.to_be_bytes());
    h.extend_from_slice(&[0; 12]);
    h.extend_from_slice(&16u32.to_be_bytes());
    h.extend_from_slice(&virtual_size.to_be_bytes());
    h.resize(4096, 0);
    h
}

#[tokio::test]
async fn upload_download_round_trip_with_checksums() {
    let c = cloud().await;
    let id = c.create_named(A, "data").await;
    let data = sample(3 * 1024 * 1024 + 17);
    let r = c.upload(A, &id, data.clone()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let im = c.get(A, &format!("/v2/images/{id}")).await.body;
    let md5 = hex::encode(md5::Md5::digest(&data));
    let sha = hex::encode(sha2::Sha512::digest(&data));
    assert_eq!(im["status"], "active");
    assert_eq!(im["size"], data.len());
    assert_eq!(im["virtual_size"], data.len());
    assert_eq!(im["checksum"], md5.as_str());
    assert_eq!(im["os_hash_algo"], "sha512");
    assert_eq!(im["os_hash_value"], sha.as_str());
    assert_eq!(im["stores"], "file");
    assert_eq!(c.stored_files(), [id.as_str()]);

    let file = format!("/v2/images/{id}/file");
    let r = c.get(A, &file).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-md5"), Some(md5.as_str()));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        r.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    assert!(r.raw == data, "downloaded bytes differ");
    let r = c.call(Method::HEAD, &file, Some(A), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.raw.is_empty());

    // Ranges.
    let range = |spec: &'static str| {
        let c = &c;
        let file = file.clone();
        async move {
            c.send(
                Method::GET,
                &file,
                Some(A),
                &[("range", spec)],
                Body::empty(),
            )
            .await
        }
    };
    let r = range("bytes=10-19").await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.raw, data[10..20]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 10-19/{}", data.len()).as_str())
    );
    let r = range("bytes=-5").await;
    assert_eq!(r.raw, data[data.len() - 5..]);
    let r = range("bytes=99999999-").await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{}", data.len()).as_str())
    );

    // Once active, no second upload; formats are frozen.
    assert_eq!(
        c.upload(A, &id, b"again".to_vec()).await.status,
        StatusCode::CONFLICT
    );
    let r = c
        .patch(
            A,
            &id,
            json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Deleting the image deletes its data.
    let r = c
        .call(Method::DELETE, &format!("/v2/images/{id}"), Some(A), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(c.stored_files().is_empty());
}

#[tokio::test]
async fn qcow2_virtual_size_and_chunked_upload() {
    let c = cloud().await;
    let id = c
        .create(
            A,
            json!({"name": "q", "disk_format": "qcow2", "container_format": "bare"}),
        )
        .await;
    let data = qcow2(1 << 30);
    // Chunked: no Content-Length, several chunks.
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(1000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let r = c
        .send(
            Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some(A),
            &[("content-type", "application/octet-stream")],
            Body::from_stream(futures_util::stream::iter(chunks)),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let im = c.get(A, &format!("/v2/images/{id}")).await.body;
    assert_eq!(
        (im["size"].clone(), im["virtual_size"].clone()),
        (json!(4096), json!(1u64 << 30))
    );
}

#[tokio::test]
async fn an_interrupted_upload_leaves_no_file_and_the_image_queued() {
    let c = cloud().await;
    let id = c.create_named(A, "broken").await;
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(vec![1u8; 100_000])),
        Ok(Bytes::from(vec![2u8; 100_000])),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let r = c
        .send(
            Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some(A),
            &[("content-type", "application/octet-stream")],
            Body::from_stream(futures_util::stream::iter(chunks)),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let im = c.get(A, &format!("/v2/images/{id}")).await.body;
    assert_eq!(
        (im["status"].clone(), im["size"].clone()),
        (json!("queued"), json!(null))
    );
    assert!(c.stored_files().is_empty(), "{:?}", c.stored_files());
    // And the upload can be retried.
    assert_eq!(
        c.upload(A, &id, b"ok".to_vec()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(c.get(A, &format!("/v2/images/{id}/file")).await.raw, b"ok");
}

#[tokio::test]
async fn upload_limits_and_preconditions() {
    let c = cloud_with(|cfg| {
        cfg.max_image_size = 1000;
        cfg.quota_image_size_total = 1500;
    })
    .await;
    let id = c.create_named(A, "big").await;
    // Over the size cap, with and without a declared length.
    assert_eq!(
        c.upload(A, &id, vec![0; 1001]).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(vec![0u8; 600])),
        Ok(Bytes::from(vec![0u8; 600])),
    ];
    let r = c
        .send(
            Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some(A),
            &[("content-type", "application/octet-stream")],
            Body::from_stream(futures_util::stream::iter(chunks)),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert_eq!(
        c.get(A, &format!("/v2/images/{id}")).await.body["status"],
        "queued"
    );
    assert!(c.stored_files().is_empty());
    assert_eq!(
        c.upload(A, &id, vec![0; 1000]).await.status,
        StatusCode::NO_CONTENT
    );
    // The project's storage quota: 500 bytes left.
    let second = c.create_named(A, "second").await;
    let r = c.upload(A, &second, vec![0; 501]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().contains("quota"), "{}", r.text());
    assert_eq!(
        c.upload(A, &second, vec![0; 500]).await.status,
        StatusCode::NO_CONTENT
    );

    // Preconditions.
    let bare = c.create(A, json!({"name": "no formats"})).await;
    assert_eq!(
        c.upload(A, &bare, b"x".to_vec()).await.status,
        StatusCode::BAD_REQUEST
    );
    let other = c.create_named(A, "ct").await;
    let r = c
        .send(
            Method::PUT,
            &format!("/v2/images/{other}/file"),
            Some(A),
            &[("content-type", "application/json")],
            Body::from("{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        c.upload(A_READER, &other, b"x".to_vec()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.upload(B, &other, b"x".to_vec()).await.status,
        StatusCode::NOT_FOUND
    );
    // No data yet: 204.
    let r = c.get(A, &format!("/v2/images/{other}/file")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn download_rights() {
    let c = cloud().await;
    let id = c.create_named(A, "shared").await;
    c.upload(A, &id, b"payload".to_vec()).await;
    let file = format!("/v2/images/{id}/file");
    // A reader may see the image but not download it (download needs member).
    assert_eq!(
        c.get(A_READER, &format!("/v2/images/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(c.get(A_READER, &file).await.status, StatusCode::FORBIDDEN);
    assert_eq!(c.get(B, &file).await.status, StatusCode::NOT_FOUND);
    let r = c
        .call(
            Method::POST,
            &format!("/v2/images/{id}/members"),
            Some(A),
            Some(json!({"member": PROJECT_B})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.get(B, &file).await.raw, b"payload");
    assert_eq!(c.get(ADMIN, &file).await.raw, b"payload");
}

#[tokio::test]
async fn stage_and_glance_direct_import() {
    let c = cloud().await;
    let id = c.create_named(A, "imported").await;
    let data = sample(70_000);
    let import = |body: serde_json::Value| {
        let c = &c;
        let path = format!("/v2/images/{id}/import");
        async move { c.call(Method::POST, &path, Some(A), Some(body)).await }
    };
    // Not staged yet.
    let r = import(json!({"method": {"name": "glance-direct"}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    for bad in [
        json!({}),
        json!({"method": {}}),
        json!({"method": {"name": "web-download", "uri": "http://example.org/x"}}),
        json!({"method": {"name": "glance-direct"}, "all_stores": "yes"}),
    ] {
        assert_eq!(
            import(bad.clone()).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let r = c
        .send(
            Method::PUT,
            &format!("/v2/images/{id}/stage"),
            Some(A),
            &[("content-type", "application/octet-stream")],
            Body::from(data.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let im = c.get(A, &format!("/v2/images/{id}")).await.body;
    assert_eq!(im["status"], "uploading");
    assert_eq!(c.stored_files(), [format!("staging/{id}")]);
    // Staging twice, or uploading while staged, conflicts.
    assert_eq!(
        c.upload(A, &id, b"x".to_vec()).await.status,
        StatusCode::CONFLICT
    );
    let r = import(json!({"method": {"name": "glance-direct"}})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let im = c.get(A, &format!("/v2/images/{id}")).await.body;
    assert_eq!(im["status"], "active");
    assert_eq!(im["size"], data.len());
    assert_eq!(
        im["checksum"],
        hex::encode(md5::Md5::digest(&data)).as_str()
    );
    assert_eq!(c.stored_files(), [id.as_str()]);
    assert!(c.get(A, &format!("/v2/images/{id}/file")).await.raw == data);
}

#[tokio::test]
async fn in_flight_uploads_are_limited_per_project() {
    let c = cloud_with(|cfg| cfg.quota_image_count_uploading = 1).await;
    let slow = c.create_named(A, "slow").await;
    let other = c.create_named(A, "other").await;
    // An upload that stays open until the rest of the test has run.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let path = format!("/v2/images/{slow}/file");
    let upload = c.send(
        Method::PUT,
        &path,
        Some(A),
        &[("content-type", "application/octet-stream")],
        Body::from_stream(body),
    );
    let meanwhile = async {
        tx.send(Ok(Bytes::from_static(b"first half, ")))
            .await
            .expect("send");
        while c.get(A, &format!("/v2/images/{slow}")).await.body["status"] != "saving" {
            tokio::task::yield_now().await;
        }
        let usage = c.get(A, "/v2/info/usage").await.body;
        assert_eq!(
            usage["usage"]["image_count_uploading"],
            json!({"limit": 1, "usage": 1})
        );
        // A second upload or stage by the same project is refused and changes nothing.
        let r = c.upload(A, &other, b"x".to_vec()).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
        assert!(
            r.text().contains("at most 1 images uploading"),
            "{}",
            r.text()
        );
        let r = c
            .send(
                Method::PUT,
                &format!("/v2/images/{other}/stage"),
                Some(A),
                &[("content-type", "application/octet-stream")],
                Body::from("x"),
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
        assert_eq!(
            c.get(A, &format!("/v2/images/{other}")).await.body["status"],
            "queued"
        );
        // Another project is not limited by this one's uploads.
        let theirs = c.create_named(B, "theirs").await;
        assert_eq!(
            c.upload(B, &theirs, b"y".to_vec()).await.status,
            StatusCode::NO_CONTENT
        );
        tx.send(Ok(Bytes::from_static(b"second half")))
            .await
            .expect("send");
        drop(tx);
    };
    let (r, ()) = tokio::join!(upload, meanwhile);
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    // Once the first is done the next may go.
    assert_eq!(
        c.upload(A, &other, b"x".to_vec()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(A, &format!("/v2/images/{slow}/file")).await.raw,
        b"first half, second half"
    );
}
