//! What the fuzz targets and the seed generator share: fixed keys, a small
//! fixed network folded with the sequencer's own rules, and the view of a
//! ledger state used to check that `undo` takes an entry back exactly.
//!
//! Everything here is deterministic (fixed keys, nonces and clock), so the
//! seeds written by `gen_seeds` carry the network id and member keys the
//! `entry` target checks against, and the fuzzer can mutate a seed into an
//! entry the rules admit.

use std::collections::BTreeMap;

use coopledger::client::{
    admit_body, adopt_body, allocate_body, contribution_body, distribution_body, evaluate_body,
    genesis_body, grant_body, retract_body, revoke_body, rotate_body, void_body,
};
use coopledger::ledger::{
    AllocationState, CheckContext, CheckedEntry, ContributionState, DistributionState, LedgerState,
    Limits, MemberState, Network, PolicyVersion, Refusal,
};
use coopledger::pb::{self, entry::Body};
use coopledger::verify::{EntryId, PAYLOAD_TYPE, VerifiedEnvelope, pae, sign_entry};
use ed25519_dalek::{Signer as _, SigningKey};

/// The clock the rules are checked against (2026-09-21T13:46:40Z).
pub const NOW_MS: i64 = 1_790_000_000_000;

/// The server's log key that genesis names.
pub const LOG_KEY: [u8; 32] = [7; 32];

/// A small policy the fixed network adopts.
pub const POLICY_JSON: &str = r#"{"default_rates":{"work":3000},"mode":"remaining","buckets":[{"type":"shares","percent_ppm":1000000,"kinds":["work"]}]}"#;

/// A policy with most of the rules set: the `adopt_policy` seed.
pub const RICH_POLICY_JSON: &str = r#"{"currency":"EUR","decimals":2,"default_rates":{"work":2500,"resource":1000},"rates":{"design":3000},"kind_multiplier_ppm":{"work":1000000},"tag_multiplier_ppm":{"lead":1200000},"decay":{"interval_days":30,"rate_ppm":100000},"validation":{"min_approvals":1,"max_flags":0},"rating":{"min_ratings":1,"default":100},"evaluator_weights":{"method":"eigentrust","pretrusted":["ana"],"damping_ppm":150000},"mode":"straight","buckets":[{"type":"fixed","percent_ppm":50000,"recipient":"fund"},{"type":"reimburse","percent_ppm":200000,"kinds":["expense"]},{"type":"allocation","percent_ppm":100000,"mechanism":"give"},{"type":"shares","percent_ppm":650000,"kinds":["work","resource"],"method":"balanced"}]}"#;

/// The fixed key of `handle`: the members ana, bo and cy, and one key for
/// every other author (a stranger the rules refuse).
pub fn key_of(handle: &str) -> SigningKey {
    let seed = match handle {
        "ana" => 1,
        "bo" => 2,
        "cy" => 3,
        "dee" => 4,
        _ => 9,
    };
    SigningKey::from_bytes(&[seed; 32])
}

/// Signs an entry with its author's fixed key.
pub fn sign(entry: &pb::Entry) -> pb::Envelope {
    sign_entry(&key_of(&entry.author), entry)
}

/// An envelope whose payload is `payload` (any bytes), validly signed with
/// a fixed key, so verification gets past the signature to the decoding.
pub fn sign_payload(payload: &[u8]) -> pb::Envelope {
    let key = key_of("ana");
    let signature = key.sign(&pae(PAYLOAD_TYPE, payload));
    pb::Envelope {
        payload: payload.to_vec(),
        payload_type: PAYLOAD_TYPE.to_string(),
        public_key: key.verifying_key().to_bytes().to_vec(),
        signature: signature.to_bytes().to_vec(),
    }
}

/// The context entries arrive in: default limits and the fixed clock.
pub fn arrival(limits: &Limits) -> CheckContext<'_> {
    CheckContext {
        log_public_key: &LOG_KEY,
        limits,
        now_ms: Some(NOW_MS),
    }
}

/// The context of a replay: no limits, no clock.
pub fn replay(limits: &Limits) -> CheckContext<'_> {
    CheckContext {
        log_public_key: &LOG_KEY,
        limits,
        now_ms: None,
    }
}

/// Verifies, checks and folds `entry` into `state`, as the sequencer does
/// on arrival.
pub fn push(state: &mut LedgerState, entry: &pb::Entry) -> Result<EntryId, Refusal> {
    let limits = Limits::default();
    let verified = VerifiedEnvelope::verify(&sign(entry), limits.max_payload_bytes)?;
    let checked = CheckedEntry::new(verified, &limits)?;
    let admitted = state.check(&checked, &arrival(&limits))?;
    let sequence = state.size();
    state.apply(admitted, sequence, None);
    Ok(checked.id)
}

/// An entry of the fixed network, with a nonce and a time of its own.
fn entry(author: &str, network_id: &[u8], n: u8, body: Body) -> pb::Entry {
    pb::Entry {
        network_id: network_id.to_vec(),
        author: author.into(),
        created_at_ms: NOW_MS - 300_000 + i64::from(n) * 1000,
        nonce: vec![n; 16],
        body: Some(body),
    }
}

/// One work contribution at `at`.
fn work(minutes: u64, at: i64, tags: &[&str]) -> pb::Contribution {
    pb::Contribution {
        kind: pb::ContributionKind::Work as i32,
        quantity: minutes,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        at,
        note: "fixed".into(),
        ..Default::default()
    }
}

/// A small network: genesis founded by ana and bo (both admins), cy
/// admitted, ana made treasurer, a policy adopted, one contribution by bo,
/// and a distribution of a period a year ago recorded by ana.
pub struct Net {
    /// The folded state.
    pub state: LedgerState,
    /// Genesis's id.
    pub network_id: Vec<u8>,
    /// The id of every entry folded so far.
    pub ids: Vec<EntryId>,
    /// The id of bo's contribution.
    pub contribution_id: EntryId,
    /// The id of the distribution ana recorded.
    pub distribution_id: EntryId,
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

impl Net {
    /// The fixed genesis entry.
    pub fn genesis() -> pb::Entry {
        let founders = [
            ("ana".to_string(), key_of("ana").verifying_key().to_bytes()),
            ("bo".to_string(), key_of("bo").verifying_key().to_bytes()),
        ];
        entry(
            "ana",
            &[],
            0,
            genesis_body("Fuzz coop", "EUR", 2, &founders, &LOG_KEY),
        )
    }

    /// Folds the fixed network. Panics if its own rules refuse it (a
    /// broken harness, not a finding).
    #[allow(clippy::expect_used, reason = "a broken harness must fail loudly")]
    pub fn new() -> Net {
        let mut state = LedgerState::default();
        let genesis = push(&mut state, &Self::genesis()).expect("genesis");
        let network_id = genesis.0.to_vec();
        let mut ids = vec![genesis];
        let cy = key_of("cy").verifying_key().to_bytes();
        let log = [
            entry("ana", &network_id, 1, admit_body("cy", &cy)),
            entry(
                "ana",
                &network_id,
                2,
                grant_body("ana", pb::Role::Treasurer),
            ),
            entry("ana", &network_id, 3, adopt_body(POLICY_JSON.as_bytes())),
            entry(
                "bo",
                &network_id,
                4,
                contribution_body(work(90, NOW_MS / 1000 - 86_400, &["design"])),
            ),
            entry(
                "ana",
                &network_id,
                5,
                distribution_body(pb::RecordDistribution {
                    period: Some(pb::Period {
                        start: NOW_MS / 1000 - 400 * 86_400,
                        end: NOW_MS / 1000 - 370 * 86_400,
                    }),
                    income: Some(0),
                    policy_version: 1,
                    log_size: 5,
                    digest: vec![1; 32],
                }),
            ),
        ];
        for e in &log {
            ids.push(push(&mut state, e).expect("the fixed network's entries"));
        }
        let contribution_id = ids[4];
        let distribution_id = ids[5];
        Net {
            state,
            network_id,
            ids,
            contribution_id,
            distribution_id,
        }
    }

    /// One entry of every body kind against this network, most of them
    /// ones the rules admit: the `entry` and `envelope` seeds.
    pub fn seed_entries(&self) -> Vec<(&'static str, pb::Entry)> {
        let id = self.network_id.as_slice();
        let c = &self.contribution_id;
        let dee = key_of("dee").verifying_key().to_bytes();
        let now_s = NOW_MS / 1000;
        // Thirty days that ended an hour ago.
        let (start, end) = (now_s - 3_600 - 30 * 86_400, now_s - 3_600);
        vec![
            ("genesis", Self::genesis()),
            (
                "admit_member",
                entry("ana", id, 10, admit_body("dee", &dee)),
            ),
            ("rotate_key", entry("cy", id, 11, rotate_body(&dee))),
            (
                "grant_role",
                entry("ana", id, 12, grant_body("bo", pb::Role::Treasurer)),
            ),
            (
                "revoke_role",
                entry("ana", id, 13, revoke_body("ana", pb::Role::Treasurer)),
            ),
            (
                "adopt_policy",
                entry("ana", id, 14, adopt_body(RICH_POLICY_JSON.as_bytes())),
            ),
            (
                "log_contribution",
                entry(
                    "cy",
                    id,
                    15,
                    contribution_body(pb::Contribution {
                        kind: pb::ContributionKind::Resource as i32,
                        quantity: 12,
                        rate: Some(1500),
                        tags: vec!["tools".into(), "lead".into()],
                        project: "barn".into(),
                        at: now_s - 7_200,
                        note: "a saw, twelve days".into(),
                        evidence_url: "https://example.org/saw".into(),
                        evidence_hash: vec![5; 32],
                    }),
                ),
            ),
            (
                "amend_contribution",
                entry(
                    "bo",
                    id,
                    16,
                    coopledger::client::amend_body(&c.0, work(120, now_s - 86_400, &["design"])),
                ),
            ),
            (
                "retract_contribution",
                entry("bo", id, 17, retract_body(&c.0, "logged twice")),
            ),
            (
                "evaluate",
                entry(
                    "ana",
                    id,
                    18,
                    evaluate_body(c, pb::Verdict::Approve, Some(80), "good"),
                ),
            ),
            (
                "allocate",
                entry(
                    "ana",
                    id,
                    19,
                    allocate_body(start, end, &[("bo", 60), ("cy", 40)]),
                ),
            ),
            (
                "record_distribution",
                entry(
                    "ana",
                    id,
                    20,
                    distribution_body(pb::RecordDistribution {
                        period: Some(pb::Period { start, end }),
                        income: Some(100_000),
                        policy_version: 1,
                        log_size: self.state.size(),
                        digest: vec![3; 32],
                    }),
                ),
            ),
            (
                "void_distribution",
                entry(
                    "ana",
                    id,
                    21,
                    void_body(&self.distribution_id.0, "wrong income"),
                ),
            ),
        ]
    }

    /// What the state shows through its public accessors, in a fixed
    /// order, with the sequence of each id in `ids` and of `extra`.
    pub fn shown(&self, extra: &EntryId) -> Shown {
        let state = &self.state;
        let mut contributions: Vec<ContributionState> = state.contributions().cloned().collect();
        contributions.sort_by_key(|c| c.id);
        Shown {
            size: state.size(),
            live_contributions: state.live_contributions(),
            standing_evaluations: state.standing_evaluations(),
            network: state.network().cloned(),
            members: state.members().cloned().collect(),
            contributions,
            policies: state.policies().to_vec(),
            allocations: state.allocations().clone(),
            distributions: state.distributions().to_vec(),
            sequences: self
                .ids
                .iter()
                .chain(std::iter::once(extra))
                .map(|id| (*id, state.sequence_of(id)))
                .collect(),
        }
    }
}

/// Everything a `LedgerState` shows through its public accessors (its
/// `HashMap`s make `Debug` output no stable comparison).
#[derive(Debug, PartialEq)]
pub struct Shown {
    size: u64,
    live_contributions: u64,
    standing_evaluations: u64,
    network: Option<Network>,
    members: Vec<MemberState>,
    contributions: Vec<ContributionState>,
    policies: Vec<PolicyVersion>,
    allocations: BTreeMap<(i64, i64, String), AllocationState>,
    distributions: Vec<DistributionState>,
    sequences: Vec<(EntryId, Option<u64>)>,
}
