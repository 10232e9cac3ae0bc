//! The SQL-paged server list against a plain in-memory reference, on every engine: many
//! filter / sort / marker / limit / predicate combinations, every page of each walked with
//! the previous page's last server as marker.

use std::cmp::Ordering;

use oxstack_common::db::testing;

use super::super::tests::instance;
use super::super::{MIGRATIONS, NewInstance, Store, StoreError};
use super::{InstanceFilter, InstanceSort, InstanceSortKey as K};
use crate::model::Instance;

/// Deterministic servers: created_at in ties of four, uuids in another order than creation,
/// some NULL hosts / key names / task states / launch times, deleted ones, two projects.
/// Text values are lowercase letters and digits, which every engine's collation sorts as
/// bytes.
fn servers() -> Vec<Instance> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    (0..48)
        .map(|n: i64| {
            let r = next();
            let uuid = format!("{:08x}-0000-4000-8000-{:012x}", r, n);
            let mut i = instance(&uuid, if n % 5 == 4 { "p2" } else { "p1" }, (n / 4) * 10);
            i.name = format!("vm{}", (n * 7) % 11);
            i.host = (n % 3 != 0).then(|| format!("h{}", n % 2));
            i.key_name = (n % 4 != 1).then(|| format!("k{}", n % 3));
            i.task_state = (n % 6 == 0).then(|| "spawning".to_string());
            i.vm_state = if n % 7 == 3 { "stopped" } else { "active" }.into();
            i.launched_at = (n % 5 != 2).then_some(1000 - (n % 9) * 10);
            i.locked_by = (n % 8 == 5).then(|| "owner".to_string());
            i.image_ref = format!("img{}", n % 2);
            i.reservation_id = format!("r{}", n % 3);
            i.flavor.flavorid = format!("f{}", n % 4);
            i.updated_at = i.created_at + (n % 3) * 5;
            i.deleted = n % 9 == 8;
            i.tags = match n % 4 {
                0 => vec![],
                1 => vec!["a".into()],
                2 => vec!["a".into(), "b".into()],
                _ => vec!["b".into(), "c".into()],
            };
            i
        })
        .collect()
}

/// `f` applied in memory.
fn matches(f: &InstanceFilter, i: &Instance) -> bool {
    let has = |t: &String| i.tags.contains(t);
    (f.include_deleted || !i.deleted)
        && f.project_id.as_ref().is_none_or(|p| &i.project_id == p)
        && f.host.as_ref().is_none_or(|h| i.host.as_ref() == Some(h))
        && f.changes_since.is_none_or(|t| i.updated_at >= t)
        && f.vm_states.as_ref().is_none_or(|v| v.contains(&i.vm_state))
        && f.image_ref.as_ref().is_none_or(|x| &i.image_ref == x)
        && f.reservation_id
            .as_ref()
            .is_none_or(|x| &i.reservation_id == x)
        && f.tags.as_ref().is_none_or(|t| t.iter().all(has))
        && f.tags_any.as_ref().is_none_or(|t| t.iter().any(has))
        && f.not_tags.as_ref().is_none_or(|t| !t.iter().all(has))
        && f.not_tags_any.as_ref().is_none_or(|t| !t.iter().any(has))
}

/// A sort key's value, written out again (NULL as `None`, smallest).
fn key(i: &Instance, k: K) -> (Option<i64>, Option<String>) {
    let s = |v: &str| (None, Some(v.to_string()));
    match k {
        K::CreatedAt => (Some(i.created_at), None),
        K::UpdatedAt => (Some(i.updated_at), None),
        K::LaunchedAt => (i.launched_at, None),
        K::Locked => (Some(i64::from(i.locked_by.is_some())), None),
        K::Name => s(&i.name),
        K::Host => (None, i.host.clone()),
        K::KeyName => (None, i.key_name.clone()),
        K::TaskState => (None, i.task_state.clone()),
        K::VmState => s(&i.vm_state),
        K::FlavorId => s(&i.flavor.flavorid),
        K::Uuid => s(&i.uuid),
        other => panic!("no reference for {other:?}"),
    }
}

fn reference_cmp(sort: &[InstanceSort], a: &Instance, b: &Instance) -> Ordering {
    let mut keys = sort.to_vec();
    if !keys.iter().any(|s| s.key == K::Uuid) {
        keys.push(InstanceSort {
            key: K::Uuid,
            desc: keys.first().is_none_or(|s| s.desc),
        });
    }
    for s in keys {
        let (x, y) = (key(a, s.key), key(b, s.key));
        let o = if s.desc { y.cmp(&x) } else { x.cmp(&y) };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn reference(
    all: &[Instance],
    f: &InstanceFilter,
    sort: &[InstanceSort],
    marker: Option<&str>,
    limit: usize,
    keep: Option<&super::Keep<'_>>,
) -> Vec<String> {
    let mut v: Vec<&Instance> = all
        .iter()
        .filter(|i| matches(f, i) && keep.is_none_or(|k| k(i)))
        .collect();
    v.sort_by(|a, b| reference_cmp(sort, a, b));
    if let Some(m) = marker {
        let m = all.iter().find(|i| i.uuid == m).expect("marker");
        v.retain(|i| reference_cmp(sort, i, m) == Ordering::Greater);
    }
    v.into_iter().take(limit).map(|i| i.uuid.clone()).collect()
}

fn sorts() -> Vec<Vec<InstanceSort>> {
    let s = |key, desc| InstanceSort { key, desc };
    vec![
        // Nova's default.
        vec![s(K::CreatedAt, true), s(K::Uuid, true)],
        vec![s(K::CreatedAt, false)],
        vec![s(K::Name, false), s(K::CreatedAt, false)],
        vec![s(K::Host, true), s(K::Name, false), s(K::CreatedAt, true)],
        vec![s(K::Host, false), s(K::KeyName, true)],
        vec![s(K::LaunchedAt, false), s(K::UpdatedAt, true)],
        vec![s(K::LaunchedAt, true)],
        vec![s(K::TaskState, true), s(K::VmState, false)],
        vec![s(K::Locked, true), s(K::CreatedAt, true)],
        vec![s(K::Uuid, false), s(K::Name, true)],
        // Sorted in memory.
        vec![s(K::FlavorId, false), s(K::CreatedAt, true)],
    ]
}

fn filters(all: &[Instance]) -> Vec<InstanceFilter> {
    let p1 = || Some("p1".to_string());
    let tags = |t: &[&str]| Some(t.iter().map(|x| x.to_string()).collect::<Vec<_>>());
    vec![
        InstanceFilter::default(),
        InstanceFilter {
            project_id: p1(),
            ..Default::default()
        },
        InstanceFilter {
            project_id: p1(),
            include_deleted: true,
            ..Default::default()
        },
        InstanceFilter {
            host: Some("h1".into()),
            vm_states: Some(vec!["active".into()]),
            ..Default::default()
        },
        InstanceFilter {
            changes_since: Some(all[20].updated_at),
            include_deleted: true,
            image_ref: Some("img0".into()),
            ..Default::default()
        },
        InstanceFilter {
            reservation_id: Some("r1".into()),
            tags: tags(&["a", "a"]),
            ..Default::default()
        },
        InstanceFilter {
            project_id: p1(),
            tags_any: tags(&["a", "c"]),
            not_tags_any: tags(&["c"]),
            ..Default::default()
        },
        InstanceFilter {
            not_tags: tags(&["a", "b"]),
            vm_states: Some(vec![]),
            ..Default::default()
        },
        InstanceFilter {
            not_tags: tags(&["a", "b"]),
            include_deleted: true,
            ..Default::default()
        },
    ]
}

#[tokio::test]
async fn paged_lists_match_the_in_memory_reference_on_every_engine() {
    let all = servers();
    // Predicates SQL cannot apply: the `name` regex, one keeping about half, one few.
    let some = |i: &Instance| regex::Regex::new("[13579]$").expect("re").is_match(&i.name);
    let few = |i: &Instance| i.name == "vm3" || i.name == "vm8";
    let keeps: [Option<&super::Keep<'_>>; 3] = [None, Some(&some), Some(&few)];
    for t in testing::engines().await {
        let db = t.db();
        db.migrate("compute", MIGRATIONS).await.expect("migrate");
        let s = Store::new(db.clone());
        let new: Vec<NewInstance> = all
            .iter()
            .map(|i| NewInstance {
                instance: i.clone(),
                group: None,
            })
            .collect();
        s.instance_create(&new).await.expect("create");
        let mut pages = 0;
        for f in filters(&all) {
            for sort in sorts() {
                for (k, keep) in keeps.iter().enumerate() {
                    let limits: &[usize] = match k {
                        0 => &[1, 7, 1000],
                        1 => &[3],
                        _ => &[1, 7],
                    };
                    for &limit in limits {
                        // Every page, each after the last of the previous one.
                        let whole = reference(&all, &f, &sort, None, usize::MAX, *keep);
                        let mut seen = Vec::new();
                        let mut marker: Option<String> = None;
                        loop {
                            let want = reference(&all, &f, &sort, marker.as_deref(), limit, *keep);
                            let got: Vec<String> = s
                                .instance_list_page(&f, &sort, marker.as_deref(), limit, *keep)
                                .await
                                .expect("page")
                                .into_iter()
                                .map(|i| i.uuid)
                                .collect();
                            pages += 1;
                            assert_eq!(
                                got,
                                want,
                                "{:?}: filter {f:?} sort {sort:?} keep {k} limit {limit} marker {marker:?}",
                                t.engine()
                            );
                            seen.extend(got.iter().cloned());
                            if got.len() < limit {
                                break;
                            }
                            marker = got.last().cloned();
                        }
                        assert_eq!(
                            seen,
                            whole,
                            "{:?}: pages join to the whole list",
                            t.engine()
                        );
                    }
                }
                // Markers outside the filtered list (Nova pages from any server's values):
                // a deleted one, another project's, one the predicate drops.
                for m in [&all[8], &all[4], &all[10], &all[47]] {
                    let want = reference(&all, &f, &sort, Some(&m.uuid), 5, Some(&some));
                    let got: Vec<String> = s
                        .instance_list_page(&f, &sort, Some(&m.uuid), 5, Some(&some))
                        .await
                        .expect("page")
                        .into_iter()
                        .map(|i| i.uuid)
                        .collect();
                    assert_eq!(
                        got,
                        want,
                        "{:?}: marker {} sort {sort:?}",
                        t.engine(),
                        m.uuid
                    );
                }
            }
        }
        assert!(pages > 500, "{pages} pages compared");
        eprintln!("{:?}: {pages} pages compared", t.engine());

        // A page carries metadata and tags; limit 0 is an empty page; an unknown marker fails.
        let page = s
            .instance_list_page(&InstanceFilter::default(), &sorts()[0], None, 2, None)
            .await
            .expect("page");
        let first = all.iter().find(|i| i.uuid == page[0].uuid).expect("known");
        assert_eq!(
            (&page[0].metadata, &page[0].tags),
            (&first.metadata, &first.tags)
        );
        assert!(
            s.instance_list_page(&InstanceFilter::default(), &[], None, 0, None)
                .await
                .expect("empty")
                .is_empty()
        );
        assert!(matches!(
            s.instance_list_page(&InstanceFilter::default(), &[], Some("nope"), 0, None)
                .await,
            Err(StoreError::MarkerNotFound(m)) if m == "nope"
        ));
        t.cleanup().await;
    }
}
