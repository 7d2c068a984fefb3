//! Regular languages as DFAs (regex-automata's dense DFAs, anchored at both ends) and the
//! one operation the procedure needs: the product walk that finds every realizable
//! combination of memberships in a list of languages, inside a universe, with a shortest
//! witness string for each. docs/exact.md explains why that suffices.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, MatchKind};

use super::Unmodelled;

/// One compiled language: the strings a regular expression matches whole.
pub(crate) struct Lang {
    dfa: dense::DFA<Vec<u32>>,
    start: StateID,
    /// Per byte, an id of what it does in every reachable state: bytes with the same id
    /// are interchangeable in this language (the DFA's own byte classes are contiguous
    /// ranges, so they can tell apart bytes that behave alike).
    behaviour: Vec<u32>,
}

impl Lang {
    /// Compiles `regex` (regex crate syntax) to match whole strings only, byte by byte
    /// (no Unicode classes: every pattern the procedure builds is ASCII; docs/exact.md).
    pub(crate) fn new(regex: &str) -> Result<Lang, Unmodelled> {
        let dfa = dense::Builder::new()
            .configure(dense::Config::new().start_kind(StartKind::Anchored).match_kind(MatchKind::All))
            .syntax(syntax::Config::new().unicode(false).utf8(false).dot_matches_new_line(true))
            .build(&format!(r"(?:{regex})\z"))
            .map_err(|e| Unmodelled::Pattern { stage: "compile", regex: regex.to_string(), message: e.to_string() })?;
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .map_err(|e| Unmodelled::Pattern { stage: "start", regex: regex.to_string(), message: e.to_string() })?;
        let behaviour = behaviour(&dfa, start);
        Ok(Lang { dfa, start, behaviour })
    }

    fn next(&self, s: StateID, byte: u8) -> StateID {
        self.dfa.next_state(s, byte)
    }

    fn accepts(&self, s: StateID) -> bool {
        self.dfa.is_match_state(self.dfa.next_eoi_state(s))
    }

    fn dead(&self, s: StateID) -> bool {
        self.dfa.is_dead_state(s)
    }

    /// Whether the whole of `text` is in the language.
    pub(crate) fn contains(&self, text: &str) -> bool {
        let mut s = self.start;
        for &b in text.as_bytes() {
            s = self.next(s, b);
            if self.dead(s) {
                return false;
            }
        }
        self.accepts(s)
    }

    fn class(&self, byte: u8) -> u32 {
        self.behaviour[usize::from(byte)]
    }
}

/// See [`Lang::behaviour`]: the reachable states, then each byte's transitions from all of
/// them. Past a bound on states, the DFA's own classes (finer, still sound) stand in.
fn behaviour(dfa: &dense::DFA<Vec<u32>>, start: StateID) -> Vec<u32> {
    const MAX_STATES: usize = 4096;
    let classes = dfa.byte_classes();
    let reps: Vec<u8> = {
        let mut seen = std::collections::BTreeMap::new();
        for b in 0..=255u8 {
            seen.entry(classes.get(b)).or_insert(b);
        }
        seen.into_values().collect()
    };
    let mut states = vec![start];
    let mut index: HashMap<StateID, ()> = HashMap::from([(start, ())]);
    let mut at = 0;
    while at < states.len() {
        for &b in &reps {
            let next = dfa.next_state(states[at], b);
            if index.insert(next, ()).is_none() {
                states.push(next);
                if states.len() > MAX_STATES {
                    return (0..=255u8).map(|b| u32::from(classes.get(b))).collect();
                }
            }
        }
        at += 1;
    }
    let mut ids: HashMap<Vec<StateID>, u32> = HashMap::new();
    (0..=255u8)
        .map(|b| {
            let row: Vec<StateID> = states.iter().map(|s| dfa.next_state(*s, b)).collect();
            let n = ids.len() as u32;
            *ids.entry(row).or_insert(n)
        })
        .collect()
}

/// Compiled languages by their regex, so that a pattern written in many statements (or
/// asked about for many actions) is compiled once per proof.
#[derive(Default)]
pub(crate) struct Cache {
    langs: HashMap<String, Rc<Lang>>,
}

impl Cache {
    pub(crate) fn get(&mut self, regex: &str) -> Result<Rc<Lang>, Unmodelled> {
        if let Some(l) = self.langs.get(regex) {
            return Ok(l.clone());
        }
        let l = Rc::new(Lang::new(regex)?);
        self.langs.insert(regex.to_string(), l.clone());
        Ok(l)
    }
}

/// One realizable combination: which languages a string is in, and the shortest such
/// string found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cell {
    pub(crate) member: Vec<bool>,
    pub(crate) witness: String,
}

/// The witness alphabet in the order witnesses prefer: readable characters first.
const PREFERRED: &[u8] =
    b"xabcdefghijklmnopqrstuvwyz0123456789-_./:ABCDEFGHIJKLMNOPQRSTUVWXYZ=+,@ !\"#$%&'()*;<>?[\\]^`{|}~";

/// Every realizable membership vector of `atoms` over the strings of `universe`, each with
/// a shortest witness, by a breadth-first walk of the product automaton. Exact over all
/// strings, not only ASCII ones: characters in the same byte class of every DFA are
/// interchangeable, and the walk refuses (`Alphabet`) when a class holding non-ASCII bytes
/// has no printable ASCII member to stand for it.
pub(crate) fn cells(universe: &Lang, atoms: &[Rc<Lang>], budget: usize) -> Result<Vec<Cell>, Unmodelled> {
    let all: Vec<&Lang> = std::iter::once(universe).chain(atoms.iter().map(|a| a.as_ref())).collect();
    // One representative byte per combination of byte classes.
    let signature = |b: u8| -> Vec<u32> { all.iter().map(|l| l.class(b)).collect() };
    let mut seen: HashMap<Vec<u32>, u8> = HashMap::new();
    for &b in PREFERRED {
        seen.entry(signature(b)).or_insert(b);
    }
    // Bytes a string could hold outside printable ASCII (control characters and UTF-8
    // sequences): each must behave like some printable character.
    if (0u8..0x20).chain(0x7f..=0xff).any(|b| !seen.contains_key(&signature(b))) {
        return Err(Unmodelled::Alphabet);
    }
    let mut alphabet: Vec<u8> = seen.into_values().collect();
    alphabet.sort_by_key(|b| PREFERRED.iter().position(|p| p == b));

    let start: Vec<StateID> = all.iter().map(|l| l.start).collect();
    let mut index: HashMap<Vec<StateID>, usize> = HashMap::new();
    // Per product state: its parent and the byte that led to it.
    let mut parent: Vec<(usize, u8)> = vec![(usize::MAX, 0)];
    let mut states: Vec<Vec<StateID>> = vec![start.clone()];
    index.insert(start, 0);
    let mut queue = VecDeque::from([0usize]);
    let mut found: HashMap<Vec<bool>, usize> = HashMap::new();
    let mut order: Vec<Vec<bool>> = Vec::new();
    let limit = 1usize << atoms.len().min(30);
    while let Some(at) = queue.pop_front() {
        let state = states[at].clone();
        if all[0].accepts(state[0]) {
            let member: Vec<bool> = state[1..].iter().zip(&all[1..]).map(|(s, l)| l.accepts(*s)).collect();
            if !found.contains_key(&member) {
                found.insert(member.clone(), at);
                order.push(member);
                if found.len() == limit {
                    break;
                }
            }
        }
        for &b in &alphabet {
            let next: Vec<StateID> = state.iter().zip(&all).map(|(s, l)| l.next(*s, b)).collect();
            if all[0].dead(next[0]) || index.contains_key(&next) {
                continue;
            }
            if states.len() >= budget {
                return Err(Unmodelled::WalkBudget(budget));
            }
            index.insert(next.clone(), states.len());
            parent.push((at, b));
            states.push(next);
            queue.push_back(states.len() - 1);
        }
    }
    let witness = |mut at: usize| -> String {
        let mut bytes = Vec::new();
        while at != 0 {
            let (p, b) = parent[at];
            bytes.push(b);
            at = p;
        }
        bytes.reverse();
        String::from_utf8(bytes).expect("the alphabet is printable ASCII")
    };
    Ok(order.into_iter().map(|member| Cell { witness: witness(found[&member]), member }).collect())
}

/// Whether `text` has the same memberships as `cell`, so it may stand for the cell instead
/// of the walk's witness (a more readable one, e.g. with the run's region).
pub(crate) fn same_cell(universe: &Lang, atoms: &[Rc<Lang>], cell: &Cell, text: &str) -> bool {
    universe.contains(text) && atoms.iter().zip(&cell.member).all(|(a, m)| a.contains(text) == *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(r: &str) -> Rc<Lang> {
        Rc::new(Lang::new(r).unwrap())
    }

    #[test]
    fn languages_match_whole_strings() {
        let l = lang("ab.*");
        assert!(l.contains("ab") && l.contains("abc:d"));
        assert!(!l.contains("xab") && !l.contains("a"));
        assert!(!lang(crate::policy::wildcard::NOTHING).contains(""));
    }

    #[test]
    fn cells_are_the_realizable_vectors_with_shortest_witnesses() {
        let universe = lang(".*");
        let atoms = [lang("a.*"), lang(".*b")];
        let mut got = cells(&universe, &atoms, 10_000).unwrap();
        got.sort_by(|a, b| a.member.cmp(&b.member));
        let want =
            [(vec![false, false], ""), (vec![false, true], "b"), (vec![true, false], "a"), (vec![true, true], "ab")];
        assert_eq!(got.len(), 4, "{got:?}");
        for (cell, (member, witness)) in got.iter().zip(want) {
            assert_eq!(cell.member, member);
            assert_eq!(cell.witness, witness);
        }
    }

    #[test]
    fn an_unrealizable_combination_is_absent() {
        // Nothing is both `a` and `b`.
        let got = cells(&lang(".*"), &[lang("a"), lang("b")], 10_000).unwrap();
        assert!(!got.iter().any(|c| c.member == [true, true]), "{got:?}");
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn the_universe_bounds_the_walk() {
        let got = cells(&lang("x[0-9]"), &[lang("x1")], 10_000).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|c| c.witness.len() == 2 && c.witness.starts_with('x')));
    }

    #[test]
    fn a_class_only_non_ascii_bytes_fill_is_refused() {
        // Every printable character is named, so nothing stands for the others.
        let printable: String =
            (0x20u8..0x7f).map(|b| regex::escape(&(b as char).to_string())).collect::<Vec<_>>().join("|");
        let err = cells(&lang(".*"), &[lang(&format!("(?:{printable})"))], 10_000).unwrap_err();
        assert_eq!(err, Unmodelled::Alphabet);
    }

    #[test]
    fn the_budget_is_enforced() {
        let err = cells(&lang(".*"), &[lang("[a-z]{40}")], 10).unwrap_err();
        assert_eq!(err, Unmodelled::WalkBudget(10));
    }
}
