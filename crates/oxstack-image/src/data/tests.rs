//! The store contract, on the file store and on the fake.

use std::io;

use bytes::Bytes;
use futures_util::StreamExt as _;
use md5::Digest as _;

use super::*;

fn stream_of(chunks: Vec<io::Result<Bytes>>) -> ByteStream {
    Box::pin(futures_util::stream::iter(chunks))
}

async fn read_all(s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = s;
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.expect("chunk"));
    }
    out
}

fn tmp_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join(".tmp"))
        .expect("tmp dir")
        .count()
}

async fn contract(store: &dyn DataStore) {
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let chunks = data
        .chunks(65_536)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let w = store
        .put("img-1", stream_of(chunks), 1 << 20)
        .await
        .expect("put");
    assert_eq!(w.size, data.len() as u64);
    assert_eq!(w.md5, hex::encode(md5::Md5::digest(&data)));
    assert_eq!(w.sha512, hex::encode(sha2::Sha512::digest(&data)));
    assert_eq!(w.head, data.get(..HEAD_BYTES).expect("head"));
    assert_eq!(store.size("img-1").await.expect("size"), data.len() as u64);
    let all = read_all(store.get("img-1", 0, None).await.expect("get")).await;
    assert_eq!(all, data);
    let part = read_all(store.get("img-1", 100, Some(1000)).await.expect("range")).await;
    assert_eq!(part, data.get(100..1100).expect("slice"));

    // Too large: refused, nothing left, the old data under another key untouched.
    let big = stream_of(vec![
        Ok(Bytes::from(vec![1u8; 600])),
        Ok(Bytes::from(vec![1u8; 600])),
    ]);
    assert!(matches!(
        store.put("img-2", big, 1000).await,
        Err(DataError::TooLarge { limit: 1000 })
    ));
    assert!(matches!(
        store.size("img-2").await,
        Err(DataError::NotFound(_))
    ));

    // The client goes away mid-stream: nothing is left.
    let broken = stream_of(vec![
        Ok(Bytes::from_static(b"abc")),
        Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone")),
    ]);
    assert!(matches!(
        store.put("img-3", broken, 1 << 20).await,
        Err(DataError::Input(_))
    ));
    assert!(matches!(
        store.size("img-3").await,
        Err(DataError::NotFound(_))
    ));

    // Staging, then into place.
    store
        .put(
            "staging/img-4",
            stream_of(vec![Ok(Bytes::from_static(b"staged"))]),
            100,
        )
        .await
        .expect("stage");
    store
        .rename("staging/img-4", "img-4")
        .await
        .expect("rename");
    assert_eq!(
        read_all(store.get("img-4", 0, None).await.expect("get")).await,
        b"staged"
    );
    assert!(matches!(
        store.size("staging/img-4").await,
        Err(DataError::NotFound(_))
    ));

    store.delete("img-1").await.expect("delete");
    store.delete("img-1").await.expect("delete again");
    assert!(matches!(
        store.get("img-1", 0, None).await,
        Err(DataError::NotFound(_))
    ));
    assert!(matches!(
        store.size("../etc").await,
        Err(DataError::BadKey(_))
    ));
    assert!(matches!(
        store.put("a//b", stream_of(vec![]), 1).await,
        Err(DataError::BadKey(_))
    ));
}

#[tokio::test]
async fn file_store_keeps_the_contract_and_leaves_no_partial_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path()).expect("open");
    contract(&store).await;
    assert_eq!(tmp_files(dir.path()), 0, "temporary files left behind");
    // Empty images are images too.
    let w = store
        .put("empty", stream_of(vec![]), 10)
        .await
        .expect("empty");
    assert_eq!(
        (w.size, w.md5.as_str()),
        (0, "d41d8cd98f00b204e9800998ecf8427e")
    );
}

#[tokio::test]
async fn file_store_cleans_leftovers_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".tmp")).expect("mkdir");
    std::fs::write(dir.path().join(".tmp/crashed.part"), b"x").expect("write");
    FileStore::open(dir.path()).expect("open");
    assert_eq!(tmp_files(dir.path()), 0);
}

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    let store = MemoryStore::default();
    contract(&store).await;
    assert_eq!(store.keys(), vec!["img-4".to_string()]);
}
