//! `GET /allocation_candidates`: which providers (or sets of providers in one tree) could
//! satisfy a request, as allocation requests the caller can claim with
//! `PUT /allocations/{consumer}`, plus a summary of every provider involved.
//!
//! Supported: the unnumbered group (`resources`, `required` with forbidden `!TRAIT`,
//! `member_of` incl. `in:` and `!`, `in_tree`), numbered groups (`resourcesN`, `requiredN`,
//! `member_ofN`, `in_treeN`) with `group_policy=none|isolate`, `root_required`, `limit`,
//! single providers and provider trees (1.29+: resources of the unnumbered group may come
//! from different providers of one tree). Not supported: sharing providers
//! (`MISC_SHARES_VIA_AGGREGATE`: a sharing provider is treated as an ordinary provider of its
//! own tree), `same_subtree` (400) and resourceless request groups.
//!
//! Semantics kept from placement: a numbered group is satisfied by ONE provider, which must
//! carry its traits; the unnumbered group's resources may be spread over a tree (1.29+) and
//! its traits must be found on the union of the providers it uses; `member_of` is satisfied
//! by the provider or by its tree's root.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};

use super::App;
use super::providers::fits;
use crate::microversion::Version;
use crate::model::{Inventory, Provider};
use crate::store::Snapshot;

/// One `member_of` parameter: any of `any_of`, or (1.32) none of `none_of`.
#[derive(Debug, Clone, Default)]
pub struct AggFilter {
    pub any_of: BTreeSet<String>,
    pub none_of: BTreeSet<String>,
}

impl AggFilter {
    pub fn matches(&self, aggs: &BTreeSet<String>) -> bool {
        (self.any_of.is_empty() || self.any_of.iter().any(|a| aggs.contains(a)))
            && !self.none_of.iter().any(|a| aggs.contains(a))
    }
}

/// Parses `member_of=<uuid>`, `in:<uuid>,<uuid>`, and from 1.32 `!<uuid>`, `!in:...`.
pub fn parse_member_of(value: &str, v: Version) -> Result<AggFilter> {
    let bad = || {
        Error::bad_request(format!(
            "Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: {value}"
        ))
        .with_type("placement.query.bad_value")
    };
    let (negative, rest) = match value.strip_prefix('!') {
        Some(r) if v.at_least(32) => (true, r),
        Some(_) => return Err(bad()),
        None => (false, value),
    };
    let (list, is_in) = match rest.strip_prefix("in:") {
        Some(l) => (l, true),
        None => (rest, false),
    };
    let mut uuids = BTreeSet::new();
    for u in list.split(',') {
        uuids.insert(super::parse_uuid(u.trim()).ok_or_else(bad)?);
    }
    if !is_in && uuids.len() != 1 {
        return Err(bad());
    }
    Ok(if negative {
        AggFilter {
            any_of: BTreeSet::new(),
            none_of: uuids,
        }
    } else {
        AggFilter {
            any_of: uuids,
            none_of: BTreeSet::new(),
        }
    })
}

/// Parses `resources=VCPU:1,MEMORY_MB:512`; unknown classes are 400.
pub async fn parse_resources(app: &App, value: &str) -> Result<Vec<(String, i64)>> {
    let bad = || {
        Error::bad_request(format!(
            "Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: {value}."
        ))
        .with_type("placement.query.bad_value")
    };
    let mut out: Vec<(String, i64)> = Vec::new();
    for part in value.split(',') {
        let (rc, amount) = part.split_once(':').ok_or_else(bad)?;
        let amount: i64 = amount.trim().parse().map_err(|_| bad())?;
        if amount < 1 {
            return Err(Error::bad_request(format!(
                "Requested resource {rc} expected positive integer amount. Got: {amount}."
            ))
            .with_type("placement.query.bad_value"));
        }
        if out.iter().any(|(r, _)| r == rc) {
            return Err(Error::bad_request(format!(
                "Badly formed resources parameter: resource class {rc} is given twice. Got: {value}."
            ))
            .with_type("placement.query.bad_value"));
        }
        if !app.class_exists(rc).await? {
            return Err(Error::bad_request(format!(
                "Invalid resource class in resources parameter: No such resource class {rc}."
            )));
        }
        out.push((rc.to_string(), amount));
    }
    Ok(out)
}

/// Parses `required=A,!B` into (required, forbidden); `!` needs 1.22; unknown traits are 400.
pub async fn parse_traits(
    app: &App,
    value: &str,
    v: Version,
) -> Result<(Vec<String>, Vec<String>)> {
    let (mut required, mut forbidden, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for t in value.split(',').map(str::trim) {
        if t.is_empty() {
            return Err(Error::bad_request(format!(
                "Invalid query string parameters: Expected 'required' parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {value}"
            ))
            .with_type("placement.query.bad_value"));
        }
        let (name, negative) = match t.strip_prefix('!') {
            Some(n) if v.at_least(22) => (n, true),
            _ => (t, false),
        };
        if !app.trait_exists(name).await? {
            unknown.push(name.to_string());
        } else if negative {
            forbidden.push(name.to_string());
        } else {
            required.push(name.to_string());
        }
    }
    if !unknown.is_empty() {
        return Err(Error::bad_request(format!(
            "Invalid trait(s) in \"required\" parameter: No such trait(s): {}.",
            unknown.join(", ")
        )));
    }
    if let Some(t) = required.iter().find(|t| forbidden.contains(t)) {
        return Err(Error::bad_request(format!(
            "Conflicting required and forbidden traits found in the following traits keys: required: ({t})"
        )));
    }
    Ok((required, forbidden))
}

/// One request group: the unnumbered one (suffix `""`) or a numbered/suffixed one.
#[derive(Debug, Clone, Default)]
pub struct RequestGroup {
    pub suffix: String,
    pub resources: Vec<(String, i64)>,
    pub required: Vec<String>,
    pub forbidden: Vec<String>,
    pub member_of: Vec<AggFilter>,
    pub in_tree: Option<String>,
}

/// A parsed `GET /allocation_candidates` request.
#[derive(Debug, Clone, Default)]
pub struct CandidateRequest {
    pub groups: Vec<RequestGroup>,
    pub isolate: bool,
    pub limit: Option<usize>,
    pub root_required: Vec<String>,
    pub root_forbidden: Vec<String>,
}

/// One allocation request: `(provider, class) → amount`, and which providers served which
/// group suffix.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub allocations: BTreeMap<String, BTreeMap<String, i64>>,
    pub mappings: BTreeMap<String, BTreeSet<String>>,
}

/// What a provider summary shows.
#[derive(Debug, Clone)]
pub struct Summary {
    pub provider: Provider,
    /// `class → (capacity, used)`.
    pub resources: BTreeMap<String, (i64, i64)>,
    pub traits: Vec<String>,
}

/// The answer: candidates and summaries of the providers they involve.
#[derive(Debug, Default)]
pub struct Candidates {
    pub candidates: Vec<Candidate>,
    pub summaries: Vec<Summary>,
}

/// One thing to choose a provider for: a numbered group (all its resources from one
/// provider) or one class of the unnumbered group.
#[derive(Debug)]
struct Slot<'g> {
    group: &'g RequestGroup,
    resources: Vec<(String, i64)>,
}

/// How many combinations one tree may produce before we stop looking in it.
const MAX_COMBINATIONS_PER_TREE: usize = 1000;

impl App {
    /// Parses the query for version `v`.
    pub async fn candidate_request(
        &self,
        v: Version,
        pairs: &[(String, String)],
    ) -> Result<CandidateRequest> {
        let mut req = CandidateRequest::default();
        let mut groups: BTreeMap<String, RequestGroup> = BTreeMap::new();
        let mut group_policy = None;
        let mut seen_keys = BTreeSet::new();
        for (k, val) in pairs {
            let repeatable = k.starts_with("member_of") && v.at_least(24);
            if !seen_keys.insert(k.clone()) && !repeatable {
                return Err(Error::bad_request(format!(
                    "Query parameter '{k}' may only be given once"
                ))
                .with_type("placement.query.duplicate_key"));
            }
            let unknown = || {
                Error::bad_request(format!(
                    "Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)"
                ))
            };
            match k.as_str() {
                "limit" if v.at_least(16) => {
                    let n: usize = val.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        Error::bad_request(format!(
                            "Invalid query string parameters: '{val}' does not match '^[1-9][0-9]*$'"
                        ))
                    })?;
                    req.limit = Some(n);
                    continue;
                }
                "group_policy" if v.at_least(25) => {
                    match val.as_str() {
                        "none" => group_policy = Some(false),
                        "isolate" => group_policy = Some(true),
                        _ => {
                            return Err(Error::bad_request(format!(
                                "Invalid query string parameters: '{val}' is not one of ['none', 'isolate']"
                            )));
                        }
                    }
                    continue;
                }
                "root_required" if v.at_least(35) => {
                    (req.root_required, req.root_forbidden) = parse_traits(self, val, v).await?;
                    continue;
                }
                "same_subtree" if v.at_least(36) => {
                    return Err(Error::bad_request(
                        "same_subtree is not supported by this placement service",
                    ));
                }
                _ => {}
            }
            let (base, suffix) = split_suffix(k);
            let suffix_ok = suffix.is_empty()
                || (v.at_least(33)
                    && suffix.len() <= 64
                    && suffix
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
                || (v.at_least(25) && suffix.bytes().all(|b| b.is_ascii_digit()));
            if !suffix_ok {
                return Err(unknown());
            }
            let min = match base {
                "resources" => 10,
                "required" => 17,
                "member_of" => 21,
                "in_tree" => 31,
                _ => return Err(unknown()),
            };
            if !v.at_least(min) {
                return Err(unknown());
            }
            let g = groups
                .entry(suffix.to_string())
                .or_insert_with(|| RequestGroup {
                    suffix: suffix.to_string(),
                    ..Default::default()
                });
            match base {
                "resources" => g.resources = parse_resources(self, val).await?,
                "required" => (g.required, g.forbidden) = parse_traits(self, val, v).await?,
                "member_of" => g.member_of.push(parse_member_of(val, v)?),
                "in_tree" => {
                    g.in_tree = Some(super::parse_uuid(val).ok_or_else(|| {
                        Error::bad_request(format!(
                            "Invalid query string parameters: '{val}' is not a 'uuid'"
                        ))
                        .with_type("placement.query.bad_value")
                    })?)
                }
                _ => {}
            }
        }
        for g in groups.values() {
            if g.resources.is_empty() {
                let name = if g.suffix.is_empty() {
                    "'resources' is a required property".to_string()
                } else {
                    format!(
                        "All request groups must specify resources. The following request group has no resources: resources{}",
                        g.suffix
                    )
                };
                return Err(Error::bad_request(
                    if g.suffix.is_empty() && groups.len() == 1 {
                        format!("Invalid query string parameters: {name}")
                    } else {
                        name
                    },
                ));
            }
        }
        if groups.is_empty() {
            let msg = if v.at_least(25) {
                "At least one request group (`resources` or `resources{$S}`) is required."
            } else {
                "Invalid query string parameters: 'resources' is a required property"
            };
            return Err(Error::bad_request(msg));
        }
        let numbered = groups.keys().filter(|s| !s.is_empty()).count();
        if numbered > 1 && group_policy.is_none() {
            return Err(Error::bad_request(
                "The \"group_policy\" parameter is required when specifying more than one \"resources{$S}\" parameter.",
            ));
        }
        req.isolate = group_policy.unwrap_or(false);
        req.groups = groups.into_values().collect();
        Ok(req)
    }

    pub async fn candidates(
        &self,
        ctx: &RequestContext,
        v: Version,
        req: &CandidateRequest,
    ) -> Result<Candidates> {
        self.authorize_any(ctx, "placement:allocation_candidates:list")?;
        let snap = self.store.snapshot().await?;
        Ok(compute(&snap, v, req))
    }
}

/// `resources1` → (`resources`, `1`); `member_of_x` → (`member_of`, `_x`).
fn split_suffix(k: &str) -> (&str, &str) {
    for base in ["resources", "required", "member_of", "in_tree"] {
        if let Some(rest) = k.strip_prefix(base) {
            return (base, rest);
        }
    }
    (k, "")
}

struct View<'s> {
    snap: &'s Snapshot,
    by_uuid: HashMap<&'s str, &'s Provider>,
    empty: BTreeSet<String>,
}

impl<'s> View<'s> {
    fn traits(&self, p: &str) -> &BTreeSet<String> {
        self.snap.traits.get(p).unwrap_or(&self.empty)
    }
    fn aggs(&self, p: &str) -> &BTreeSet<String> {
        self.snap.aggregates.get(p).unwrap_or(&self.empty)
    }
    fn inventory(&self, p: &str, rc: &str) -> Option<&'s Inventory> {
        self.snap
            .inventories
            .get(p)
            .and_then(|i| i.iter().find(|i| i.resource_class == rc))
    }
    fn used(&self, p: &str, rc: &str) -> i64 {
        self.snap
            .usages
            .get(p)
            .and_then(|u| u.get(rc))
            .copied()
            .unwrap_or(0)
    }
    fn member_ok(&self, p: &Provider, filters: &[AggFilter]) -> bool {
        filters.iter().all(|f| {
            let mut aggs = self.aggs(&p.uuid).clone();
            aggs.extend(self.aggs(&p.root_uuid).iter().cloned());
            f.matches(&aggs)
        })
    }
}

/// The candidates for `req` in `snap`.
pub fn compute(snap: &Snapshot, v: Version, req: &CandidateRequest) -> Candidates {
    let view = View {
        snap,
        by_uuid: snap
            .providers
            .iter()
            .map(|p| (p.uuid.as_str(), p))
            .collect(),
        empty: BTreeSet::new(),
    };
    // Before 1.29 only single providers without trees are candidates for the unnumbered
    // group: every class from the same provider.
    let nested = v.at_least(29);
    let mut slots = Vec::new();
    for g in &req.groups {
        if g.suffix.is_empty() && nested {
            for r in &g.resources {
                slots.push(Slot {
                    group: g,
                    resources: vec![r.clone()],
                });
            }
        } else {
            slots.push(Slot {
                group: g,
                resources: g.resources.clone(),
            });
        }
    }
    let unnumbered = req.groups.iter().find(|g| g.suffix.is_empty());

    let mut roots: Vec<&str> = Vec::new();
    let mut trees: HashMap<&str, Vec<&Provider>> = HashMap::new();
    for p in &snap.providers {
        let members = trees.entry(p.root_uuid.as_str()).or_default();
        if members.is_empty() {
            roots.push(p.root_uuid.as_str());
        }
        members.push(p);
    }

    let mut out = Candidates::default();
    let mut involved_trees = Vec::new();
    'trees: for root in roots {
        let members = &trees[root];
        if let Some(r) = view.by_uuid.get(root) {
            let t = view.traits(&r.uuid);
            if !req.root_required.iter().all(|x| t.contains(x))
                || req.root_forbidden.iter().any(|x| t.contains(x))
            {
                continue;
            }
        }
        // Which providers of this tree could serve each slot on their own.
        let mut choices: Vec<Vec<&Provider>> = Vec::new();
        for s in &slots {
            let c: Vec<&Provider> = members
                .iter()
                .copied()
                .filter(|p| slot_ok(&view, s, p))
                .collect();
            if c.is_empty() {
                continue 'trees;
            }
            choices.push(c);
        }
        let mut found = Vec::new();
        let mut pick = vec![0usize; slots.len()];
        let mut tried = 0;
        loop {
            tried += 1;
            let chosen: Vec<&Provider> = pick
                .iter()
                .enumerate()
                .map(|(i, &j)| choices[i][j])
                .collect();
            if let Some(c) = combination(&view, &slots, &chosen, unnumbered, req.isolate)
                && !found.contains(&c)
            {
                found.push(c);
            }
            if tried >= MAX_COMBINATIONS_PER_TREE || !advance(&mut pick, &choices) {
                break;
            }
        }
        if !found.is_empty() {
            involved_trees.push(root);
            out.candidates.extend(found);
        }
        if req.limit.is_some_and(|l| out.candidates.len() >= l) {
            break;
        }
    }
    if let Some(l) = req.limit {
        out.candidates.truncate(l);
    }

    // Summaries: the providers in the candidates; from 1.29 every provider of their trees.
    let mut shown: BTreeSet<&str> = BTreeSet::new();
    for c in &out.candidates {
        for p in c.allocations.keys() {
            shown.insert(p.as_str());
            if nested && let Some(pv) = view.by_uuid.get(p.as_str()) {
                for m in &trees[pv.root_uuid.as_str()] {
                    shown.insert(m.uuid.as_str());
                }
            }
        }
    }
    let requested: BTreeSet<&str> = req
        .groups
        .iter()
        .flat_map(|g| g.resources.iter().map(|(rc, _)| rc.as_str()))
        .collect();
    for p in &snap.providers {
        if !shown.contains(p.uuid.as_str()) {
            continue;
        }
        let resources = snap
            .inventories
            .get(&p.uuid)
            .into_iter()
            .flatten()
            .filter(|i| v.at_least(27) || requested.contains(i.resource_class.as_str()))
            .map(|i| {
                (
                    i.resource_class.clone(),
                    (i.capacity(), view.used(&p.uuid, &i.resource_class)),
                )
            })
            .collect();
        out.summaries.push(Summary {
            provider: p.clone(),
            resources,
            traits: view.traits(&p.uuid).iter().cloned().collect(),
        });
    }
    out
}

/// Whether `p` alone can serve slot `s` (its inventory, and for a numbered group its
/// traits, aggregates and tree).
fn slot_ok(view: &View<'_>, s: &Slot<'_>, p: &Provider) -> bool {
    let g = s.group;
    let resources_ok = s.resources.iter().all(|(rc, amount)| {
        view.inventory(&p.uuid, rc)
            .is_some_and(|inv| fits(inv, view.used(&p.uuid, rc), *amount))
    });
    if !resources_ok || !view.member_ok(p, &g.member_of) {
        return false;
    }
    if let Some(t) = &g.in_tree {
        match view.by_uuid.get(t.as_str()) {
            Some(tp) if tp.root_uuid == p.root_uuid => {}
            _ => return false,
        }
    }
    if g.suffix.is_empty() && s.resources.len() < g.resources.len() {
        // One class of a spread unnumbered group: traits are checked on the union.
        return true;
    }
    let t = view.traits(&p.uuid);
    g.required.iter().all(|x| t.contains(x)) && !g.forbidden.iter().any(|x| t.contains(x))
}

/// The allocation request of one choice of provider per slot, if it is valid as a whole.
fn combination(
    view: &View<'_>,
    slots: &[Slot<'_>],
    chosen: &[&Provider],
    unnumbered: Option<&RequestGroup>,
    isolate: bool,
) -> Option<Candidate> {
    let mut c = Candidate {
        allocations: BTreeMap::new(),
        mappings: BTreeMap::new(),
    };
    for (s, p) in slots.iter().zip(chosen) {
        for (rc, amount) in &s.resources {
            *c.allocations
                .entry(p.uuid.clone())
                .or_default()
                .entry(rc.clone())
                .or_insert(0) += amount;
        }
        c.mappings
            .entry(s.group.suffix.clone())
            .or_default()
            .insert(p.uuid.clone());
    }
    // Slots landing on the same provider must fit together.
    for (p, classes) in &c.allocations {
        for (rc, amount) in classes {
            let inv = view.inventory(p, rc)?;
            if view.used(p, rc) + amount > inv.capacity() {
                return None;
            }
        }
    }
    if isolate {
        let numbered: Vec<&BTreeSet<String>> = c
            .mappings
            .iter()
            .filter(|(s, _)| !s.is_empty())
            .map(|(_, ps)| ps)
            .collect();
        let mut all = BTreeSet::new();
        for ps in numbered {
            for p in ps {
                if !all.insert(p) {
                    return None;
                }
            }
        }
    }
    if let Some(g) = unnumbered
        && (!g.required.is_empty() || !g.forbidden.is_empty())
    {
        let mut union = BTreeSet::new();
        for p in c.mappings.get("").into_iter().flatten() {
            union.extend(view.traits(p).iter().cloned());
        }
        if !g.required.iter().all(|x| union.contains(x))
            || g.forbidden.iter().any(|x| union.contains(x))
        {
            return None;
        }
    }
    Some(c)
}

/// The next combination (odometer order); false after the last.
fn advance(pick: &mut [usize], choices: &[Vec<&Provider>]) -> bool {
    for i in (0..pick.len()).rev() {
        pick[i] += 1;
        if pick[i] < choices[i].len() {
            return true;
        }
        pick[i] = 0;
    }
    false
}
