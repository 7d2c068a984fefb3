//! Shared result types of a live run that reports read.

use std::collections::{HashMap, HashSet};

use crate::scenario::{Profile, Scenario};

/// One of N shards of a profile's scenarios (`--shard K/N`, K from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `K/N` with 1 ≤ K ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard `{text}` must be K/N with 1 <= K <= N, such as 2/4");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) =
            (k.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard (1-based) that owns the scenario at `position` in the profile.
    pub fn owner_of(&self, position: usize) -> usize {
        position % self.count + 1
    }
}

/// The scenarios a shard must run: those it owns and, transitively, what they need.
pub fn required_by(profile: &Profile, shard: Option<Shard>) -> HashSet<String> {
    let by_id: HashMap<&str, &Scenario> = profile.scenarios.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut required: HashSet<String> = HashSet::new();
    let mut stack: Vec<&str> = profile
        .scenarios
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|sh| sh.owner_of(*i) == sh.index))
        .map(|(_, s)| s.id.as_str())
        .collect();
    while let Some(id) = stack.pop() {
        if required.insert(id.to_string()) {
            stack.extend(
                by_id.get(id).map(|s| s.needs.iter().map(String::as_str).collect::<Vec<_>>()).unwrap_or_default(),
            );
        }
    }
    required
}

