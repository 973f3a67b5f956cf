//! Whatever the log accepts, the scoring core can score (DESIGN principle 8,
//! issue 8 item 1).
//!
//! Through the real server: the poison contributions of the issue (10^15
//! minutes of work, 10^15 units at a rate of 10^15, an own rate of 10^15,
//! dated 1970) are refused at ingestion with `InvalidArgument` and leave the
//! log as it was; a policy whose rates or multipliers could push an accepted
//! contribution past a scoring limit is refused at adoption, naming the
//! field; and with the most extreme policy and contributions the server does
//! accept, every period still previews and records.
//!
//! At the library level, a property: fold arbitrary signed entries, from
//! in-range extremes to far beyond the bounds, through `LedgerState::check`
//! and `apply` exactly as the sequencer does; whatever `check` accepts,
//! `distribution::preview` must succeed for every period, before and after
//! distributions are recorded.

mod common;

use common::{
    Coop, FEB_2020, Fold, JAN_2020, adopt_body, amend_body, contribution, grant_body, sign,
    submit_new, work,
};
use coopledger::client::{contribution_body, evaluate_body};
use coopledger::ledger::Refusal;
use coopledger::ledger::{
    MAX_AMOUNT, MAX_TAG_RATE, MAX_UNIT_RATE, MAX_UNITS, MAX_WORK_MINUTES, MAX_WORK_RATE,
};
use coopledger::payout::{PolicyChoice, scoring_input};
use coopledger::payout::{preview, record_body};
use coopledger::pb::{self, ContributionKind as K, entry::Body};
use coopledger::scoring::PolicyDocument;
use proptest::prelude::*;
use serde_json::json;
use tonic::Code;

/// 10^15, the largest quantity or rate the ingestion limits took before.
const E15: u64 = 1_000_000_000_000_000;
/// The first day of 1970, `[start, end)`.
const DAY_1970: (i64, i64) = (0, 86_400);
/// A period holding every date a test uses (up to 2100).
const EVERYTHING: (i64, i64) = (0, 4_102_444_800);
/// The tags of the extreme policies, as many as a contribution may carry.
const TAGS: usize = 16;

fn tag(i: usize) -> String {
    format!("t{i:02}")
}

/// A contribution of `kind` with its own `rate`.
fn rated(kind: K, quantity: u64, rate: u64, at: i64) -> pb::Contribution {
    pb::Contribution {
        rate: Some(rate),
        ..contribution(kind, quantity, at)
    }
}

/// The buckets of every test policy: each bucket type the live log can
/// run without allocations, each kind in each.
fn buckets() -> serde_json::Value {
    let all = ["work", "money", "expense", "resource", "use"];
    json!([
        {"type": "fixed", "percent_ppm": 10_000, "recipient": "commons"},
        {"type": "reimburse", "percent_ppm": 500_000, "kinds": ["expense", "money"]},
        {"type": "shares", "percent_ppm": 300_000, "kinds": all, "method": "balanced"},
        {"type": "shares", "percent_ppm": 1_000_000, "kinds": all}
    ])
}

/// A policy with every rate at its bound, the given kind multiplier for
/// every kind and `TAGS` tags of multiplier `tag_ppm` (the first four with a
/// rate too).
fn policy(kind_ppm: u64, tag_ppm: u64, decay: bool) -> serde_json::Value {
    let tags: serde_json::Map<String, serde_json::Value> =
        (0..TAGS).map(|i| (tag(i), json!(tag_ppm))).collect();
    let rates: serde_json::Map<String, serde_json::Value> =
        (0..4).map(|i| (tag(i), json!(MAX_TAG_RATE))).collect();
    let mut p = json!({
        "default_rates": {"work": MAX_WORK_RATE, "resource": MAX_UNIT_RATE, "use": MAX_UNIT_RATE},
        "rates": rates,
        "kind_multiplier_ppm": {"work": kind_ppm, "money": kind_ppm, "expense": kind_ppm,
                                "resource": kind_ppm, "use": kind_ppm},
        "tag_multiplier_ppm": tags,
        "mode": "remaining",
        "buckets": buckets(),
    });
    if decay {
        p["decay"] = json!({"interval_days": 30, "rate_ppm": 10_000});
    }
    p
}

/// The largest tag multiplier `check_scorable` accepts with `TAGS` tags on
/// top of `kind_ppm`: the most extreme policy adoption lets through.
fn largest_accepted_tag_ppm(kind_ppm: u64) -> u64 {
    let accepted = |tag_ppm: u64| {
        let text = policy(kind_ppm, tag_ppm, false).to_string();
        PolicyDocument::from_json(text.as_bytes())
            .expect("a well-formed policy")
            .check_scorable(TAGS)
            .is_ok()
    };
    assert!(accepted(1_000_000), "multipliers of 1 must always pass");
    let (mut lo, mut hi) = (1_000_000u64, 1_000_000_000u64);
    if accepted(hi) {
        return hi;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if accepted(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Every tag, for the contributions that carry as many as they may.
fn all_tags() -> Vec<String> {
    (0..TAGS).map(tag).collect()
}

async fn compute(
    coop: &mut Coop,
    period: (i64, i64),
    income: u64,
) -> Result<coopledger::client::FetchedPreview, tonic::Status> {
    coopledger::client::fetch_preview(
        &mut coop.client,
        pb::ComputeSharesRequest {
            period: Some(pb::Period {
                start: period.0,
                end: period.1,
            }),
            income: Some(income),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| match e {
        coopledger::client::FetchError::Status(s) => s,
        other => tonic::Status::internal(other.to_string()),
    })
}

/// The poison contributions, each with the start of the message
/// that must refuse it.
fn poison() -> Vec<(pb::Contribution, String)> {
    let field = "log_contribution.contribution";
    vec![
        (
            work(E15, 0),
            format!(
                "{field}.quantity: 1000000000000000 minutes of work is more than the most one \
                 entry may log (1000000 minutes, about 16,666 hours); log it in several entries"
            ),
        ),
        (
            rated(K::Resource, E15, E15, 0),
            format!(
                "{field}.quantity: 1000000000000000 units is more than the most one resource entry may log (1000000 units)"
            ),
        ),
        (
            rated(K::Use, 10, E15, JAN_2020.0),
            format!(
                "{field}.rate: 1000000000000000 minor units a unit is more than a use rate may be (1000000000"
            ),
        ),
        (
            rated(K::Work, 60, E15, 0),
            format!(
                "{field}.rate: 1000000000000000 minor units an hour is more than a work rate may be (60000000000 an hour"
            ),
        ),
        (
            work(MAX_WORK_MINUTES + 1, 0),
            format!("{field}.quantity: 1000001 minutes of work"),
        ),
        (
            rated(K::Resource, MAX_UNITS, MAX_UNIT_RATE + 1, 0),
            format!("{field}.rate: 1000000001 minor units a unit"),
        ),
        (
            contribution(K::Expense, E15 + 1, 0),
            format!(
                "{field}.quantity: 1000000000000001 minor units is more than one expense entry may log"
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_contributions_are_refused_at_ingestion_and_the_log_does_not_move() {
    let mut coop = Coop::new().await;
    let bob = coop.bob.clone();
    for (fields, message) in poison() {
        coop.refuse(
            &sign(&bob, contribution_body(fields)),
            Code::InvalidArgument,
            &message,
        )
        .await;
    }
    // An amendment cannot turn an accepted contribution into poison either.
    let bob_work = coop.bob_work_id();
    coop.refuse(
        &sign(&bob, amend_body(&bob_work, work(E15, 0))),
        Code::InvalidArgument,
        "amend_contribution.contribution.quantity: 1000000000000000 minutes of work",
    )
    .await;
    // At the bounds, all is accepted.
    for fields in [
        rated(K::Work, MAX_WORK_MINUTES, MAX_WORK_RATE, 0),
        rated(K::Resource, MAX_UNITS, MAX_UNIT_RATE, 0),
        rated(K::Use, MAX_UNITS, MAX_UNIT_RATE, 0),
        contribution(K::Money, MAX_AMOUNT, 0),
        contribution(K::Expense, MAX_AMOUNT, 0),
    ] {
        submit_new(&mut coop.client, &sign(&bob, contribution_body(fields))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_that_could_overflow_is_refused_at_adoption_naming_the_field() {
    let mut coop = Coop::new().await;
    let alice = coop.alice.clone();
    let prefix = "adopt_policy.policy_json: ";
    let too_much = [
        (
            json!({"default_rates": {"work": MAX_WORK_RATE + 1}, "buckets": []}),
            format!(
                "{prefix}default_rates.work: 60000000001 is more than a work rate may be (60000000000)"
            ),
        ),
        (
            json!({"default_rates": {"use": E15}, "buckets": []}),
            format!("{prefix}default_rates.use: 1000000000000000 is more than a use rate may be"),
        ),
        (
            json!({"rates": {"design": MAX_TAG_RATE + 1}, "buckets": []}),
            format!(
                "{prefix}rates.design: 1000000001 is more than a tag's rate may be (1000000000)"
            ),
        ),
        (
            json!({"kind_multiplier_ppm": {"work": 1_000_000_000},
                   "tag_multiplier_ppm": {"lead": 2_000_000}, "buckets": []}),
            format!(
                "{prefix}tag_multiplier_ppm: with up to 16 tags a work contribution could earn more than 10^18 points"
            ),
        ),
        (
            policy(1_000_000, 1_600_000, false),
            format!(
                "{prefix}tag_multiplier_ppm: with up to 16 tags a work contribution could earn more than 10^18 points"
            ),
        ),
    ];
    for (p, message) in too_much {
        coop.refuse(
            &sign(&alice, adopt_body(&p.to_string())),
            Code::InvalidArgument,
            &message,
        )
        .await;
    }
    // The most extreme policy the check accepts is adopted.
    let tag_ppm = largest_accepted_tag_ppm(2_000_000);
    assert!(tag_ppm > 1_000_000);
    submit_new(
        &mut coop.client,
        &sign(
            &alice,
            adopt_body(&policy(2_000_000, tag_ppm, false).to_string()),
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_most_extreme_entries_the_server_accepts_every_period_previews_and_records() {
    let mut coop = Coop::new().await;
    let (alice, bob, carol) = (coop.alice.clone(), coop.bob.clone(), coop.carol.clone());
    submit_new(
        &mut coop.client,
        &sign(&alice, grant_body("alice", pb::Role::Treasurer)),
    )
    .await;
    // The most extreme policy there is: kind multipliers of 1000× leave no
    // room for tags, so take the largest tags over 2×.
    let tag_ppm = largest_accepted_tag_ppm(2_000_000);
    let extreme = policy(2_000_000, tag_ppm, false);
    // A policy that could overflow is refused; if a server took it, previews
    // must still work (which they did not).
    let _ = coop
        .client
        .submit(pb::SubmitRequest {
            envelope: Some(sign(
                &alice,
                adopt_body(&policy(1_000_000_000, 1_000_000_000, false).to_string()),
            )),
        })
        .await;
    submit_new(
        &mut coop.client,
        &sign(&alice, adopt_body(&extreme.to_string())),
    )
    .await;

    // Poison, submitted anyway: refused, or else harmless.
    for (fields, _) in poison() {
        let _ = coop
            .client
            .submit(pb::SubmitRequest {
                envelope: Some(sign(&bob, contribution_body(fields))),
            })
            .await;
    }
    // The largest contributions of every kind, with every tag, in 1970,
    // January and February 2020, approved at full quality.
    let mut ids = Vec::new();
    for at in [0, 86_399, JAN_2020.0, JAN_2020.1 - 1, FEB_2020.0 + 3600] {
        for fields in [
            rated(K::Work, MAX_WORK_MINUTES, MAX_WORK_RATE, at),
            work(MAX_WORK_MINUTES, at),
            rated(K::Resource, MAX_UNITS, MAX_UNIT_RATE, at),
            contribution(K::Use, MAX_UNITS, at),
            contribution(K::Money, MAX_AMOUNT, at),
            contribution(K::Expense, MAX_AMOUNT, at),
        ] {
            let fields = pb::Contribution {
                tags: all_tags(),
                ..fields
            };
            let receipt =
                submit_new(&mut coop.client, &sign(&bob, contribution_body(fields))).await;
            ids.push(receipt.id);
        }
    }
    for id in &ids {
        let approve = evaluate_body(&common::entry_id(id), pb::Verdict::Approve, Some(100), "");
        submit_new(&mut coop.client, &sign(&carol, approve)).await;
    }

    for period in [DAY_1970, JAN_2020, FEB_2020, EVERYTHING] {
        for income in [0, 1, MAX_AMOUNT] {
            if let Err(status) = compute(&mut coop, period, income).await {
                panic!(
                    "the preview of {period:?} for {income} was refused: {:?}: {}",
                    status.code(),
                    status.message()
                );
            }
        }
    }
    // Record 1970's first day and January 2020, then February previews
    // with what they paid carried forward.
    for period in [DAY_1970, JAN_2020] {
        let report = compute(&mut coop, period, MAX_AMOUNT)
            .await
            .expect("preview");
        let record = report
            .record_to_sign(period, MAX_AMOUNT)
            .expect("a record to sign");
        submit_new(
            &mut coop.client,
            &sign(&alice, Body::RecordDistribution(record)),
        )
        .await;
    }
    for period in [FEB_2020, (JAN_2020.1, EVERYTHING.1)] {
        let report = compute(&mut coop, period, MAX_AMOUNT)
            .await
            .unwrap_or_else(|s| panic!("the preview of {period:?} was refused: {}", s.message()));
        // February can be recorded; the range up to 2100 previews but has
        // not ended, so it cannot be recorded yet.
        assert_eq!(
            report.header.record.is_some(),
            period == FEB_2020,
            "{period:?}: {}",
            report.header.not_recordable
        );
    }
}

// ---------------------------------------------------------------------------
// The library-level property (the fold is `common::Fold`).

/// One generated contribution: which kind, how its quantity, rate, tags
/// and date are picked, and who logs it.
#[derive(Debug, Clone)]
struct Shape {
    kind: usize,
    quantity: (u8, u64),
    rate: (u8, u64),
    tags: (u16, u64),
    at: (u8, i64),
    author: usize,
    rating: Option<u32>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        0..5usize,
        (0..6u8, any::<u64>()),
        (0..7u8, any::<u64>()),
        (any::<u16>(), any::<u64>()),
        (0..7u8, 0..FEB_2020.1),
        0..4usize,
        proptest::option::of(0..=100u32),
    )
        .prop_map(|(kind, quantity, rate, tags, at, author, rating)| Shape {
            kind,
            quantity,
            rate,
            tags,
            at,
            author,
            rating,
        })
}

impl Shape {
    fn fields(&self) -> pb::Contribution {
        let kind = [K::Work, K::Money, K::Expense, K::Resource, K::Use][self.kind];
        let (max_q, max_r) = match kind {
            K::Work => (MAX_WORK_MINUTES, MAX_WORK_RATE),
            K::Resource | K::Use => (MAX_UNITS, MAX_UNIT_RATE),
            _ => (MAX_AMOUNT, MAX_AMOUNT),
        };
        // At the bound, just under, just over, anywhere in range, anywhere
        // the old limit allowed, and the old limit itself.
        let pick = |(how, r): (u8, u64), max: u64| match how {
            0 => max,
            1 => max - 1,
            2 => max + 1,
            3 => r % (max + 1),
            4 => r % (E15 + 1),
            _ => E15,
        };
        let quantity = pick(self.quantity, max_q);
        let rate = (self.rate.0 < 6).then(|| pick(self.rate, max_r));
        // Up to every tag, in a shuffled order.
        let mut tags: Vec<String> = (0..TAGS)
            .filter(|i| self.tags.0 & (1 << i) != 0)
            .map(tag)
            .collect();
        let n = tags.len().max(1) as u64;
        tags.rotate_left((self.tags.1 % n) as usize);
        if self.tags.1 & 1 == 1 {
            tags.reverse();
        }
        let at = match self.at.0 {
            0 => 0,
            1 => DAY_1970.1 - 1,
            2 => JAN_2020.0,
            3 => JAN_2020.1 - 1,
            4 => JAN_2020.1,
            _ => self.at.1,
        };
        pb::Contribution {
            rate,
            tags,
            ..contribution(kind, quantity, at)
        }
    }
}

/// A generated policy: the kind multiplier, the tag multiplier of a first
/// (maybe refused) attempt, and whether to decay.
#[derive(Debug, Clone)]
struct PolicyShape {
    kind_ppm: u64,
    wild_tag_ppm: u64,
    wild_rate: u64,
    decay: bool,
}

fn policy_shape() -> impl Strategy<Value = PolicyShape> {
    (
        prop_oneof![
            Just(1_000_000u64),
            Just(1_000_000_000u64),
            1_000_000..=1_000_000_000u64,
            0..1_000_000u64
        ],
        1_000_000..=1_000_000_000u64,
        prop_oneof![Just(MAX_WORK_RATE + 1), 0..=E15],
        any::<bool>(),
    )
        .prop_map(|(kind_ppm, wild_tag_ppm, wild_rate, decay)| PolicyShape {
            kind_ppm,
            wild_tag_ppm,
            wild_rate,
            decay,
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Whatever the ledger rules accept, every period previews, before and
    /// after distributions are recorded, with incomes up to 10^15.
    #[test]
    fn whatever_the_log_accepts_every_period_previews(
        policy_shape in policy_shape(),
        shapes in proptest::collection::vec(shape(), 1..14),
        income in prop_oneof![Just(MAX_AMOUNT), 0..=MAX_AMOUNT],
        period in (0..FEB_2020.1, 1..FEB_2020.1),
    ) {
        let mut fold = Fold::new();
        let alice = fold.alice.clone();
        // A wild policy first: any rates and multipliers the JSON reader
        // takes. Whatever adoption accepts must be scorable.
        let mut wild = policy(policy_shape.kind_ppm, policy_shape.wild_tag_ppm, policy_shape.decay);
        wild["default_rates"]["work"] = json!(policy_shape.wild_rate);
        wild["rates"][tag(0)] = json!(policy_shape.wild_rate);
        match fold.push(&sign(&alice, adopt_body(&wild.to_string()))) {
            Ok(()) | Err(Refusal::InvalidArgument(_)) => {}
            Err(other) => panic!("a policy refused with the wrong code: {other:?}"),
        }
        // Then the most extreme policy adoption accepts for this kind
        // multiplier.
        let tag_ppm = largest_accepted_tag_ppm(policy_shape.kind_ppm);
        let extreme = policy(policy_shape.kind_ppm, tag_ppm, policy_shape.decay);
        fold.push(&sign(&alice, adopt_body(&extreme.to_string())))
            .unwrap_or_else(|r| panic!("the most extreme accepted policy was refused: {r}"));

        for s in &shapes {
            let author = fold.members[s.author].clone();
            let envelope = sign(&author, contribution_body(s.fields()));
            match fold.push(&envelope) {
                Ok(()) => {
                    // Approved, and rated, by the next member.
                    let reviewer = fold.members[(s.author + 1) % 4].clone();
                    let id = coopledger::client::envelope_id(&envelope);
                    fold.push(&sign(&reviewer, evaluate_body(&id, pb::Verdict::Approve, s.rating, "")))
                        .expect("an evaluation");
                }
                Err(Refusal::InvalidArgument(_)) => {}
                Err(other) => panic!("a contribution refused with the wrong code: {other:?}"),
            }
        }

        let (start, length) = period;
        let random = (start, start + length);
        for p in [DAY_1970, JAN_2020, FEB_2020, EVERYTHING, random] {
            fold.preview(p, income);
            // Every adopted version, the wild one too if it was accepted.
            for version in fold.state.policies().iter().map(|p| p.version) {
                preview(&fold.state, fold.state.size(), PolicyChoice::Version(version), p, income)
                    .unwrap_or_else(|r| panic!("policy {version} refused {p:?}: {r}"));
            }
        }
        // Record the first day of 1970 and January 2020 at full income, as a
        // treasurer would, then preview what follows with their payouts
        // carried forward.
        for p in [DAY_1970, JAN_2020] {
            let done = fold.preview(p, MAX_AMOUNT);
            fold.push(&sign(&alice, Body::RecordDistribution(record_body(&done))))
                .unwrap_or_else(|r| panic!("recording {p:?} was refused: {r}"));
        }
        for p in [FEB_2020, (JAN_2020.1, EVERYTHING.1), (DAY_1970.1, JAN_2020.0)] {
            fold.preview(p, income);
        }
    }
}

/// Scoring a period reads only contributions dated before its end: one
/// dated after the period (the largest the bounds allow) never reaches the
/// scoring core. (A contribution past the bounds cannot even be folded in
/// any more: the fold takes only entries that passed the stateless checks.)
#[test]
fn a_period_ignores_contributions_dated_after_its_end() {
    let mut fold = Fold::new();
    let alice = fold.alice.clone();
    let bob = fold.members[1].clone();
    fold.push(&sign(
        &alice,
        adopt_body(&policy(1_000_000, 1_000_000, false).to_string()),
    ))
    .expect("policy");
    fold.push(&sign(&bob, contribution_body(work(60, JAN_2020.0 + 10))))
        .expect("work");
    fold.push(&sign(
        &bob,
        contribution_body(rated(K::Work, MAX_WORK_MINUTES, MAX_WORK_RATE, FEB_2020.0)),
    ))
    .expect("the largest work the bounds allow");

    let (input, _) =
        scoring_input(&fold.state, PolicyChoice::Latest, JAN_2020, 1000).expect("scoring input");
    assert_eq!(input.contributions.len(), 1, "only January's work is read");
    assert!(input.contributions.iter().all(|c| c.at < JAN_2020.1));
    fold.preview(JAN_2020, MAX_AMOUNT);
    fold.preview(DAY_1970, MAX_AMOUNT);
    fold.preview(FEB_2020, MAX_AMOUNT);
}

/// Prior repayments of one claim that sum past 10^15 over several recorded
/// distributions (as when two periods both repaid it) never make a period
/// unscorable: nothing is outstanding, as with the exact sum.
#[test]
fn prior_repayments_summing_past_the_limit_leave_every_period_scorable() {
    let mut fold = Fold::new();
    let alice = fold.alice.clone();
    let bob = fold.members[1].clone();
    fold.push(&sign(
        &alice,
        adopt_body(&policy(1_000_000, 1_000_000, false).to_string()),
    ))
    .expect("policy");
    let expense = sign(
        &bob,
        contribution_body(contribution(K::Expense, MAX_AMOUNT, 0)),
    );
    fold.push(&expense).expect("expense");
    let expense_id = common::id_of(&expense);
    // Two distributions that each repaid the whole claim; `check` leaves
    // their numbers to the settlement, so a doctored pair can be folded in
    // here as a log written by a faulty server.
    for (start, end) in [
        (JAN_2020.0, JAN_2020.0 + 10),
        (JAN_2020.0 + 10, JAN_2020.0 + 20),
    ] {
        let body = Body::RecordDistribution(pb::RecordDistribution {
            period: Some(pb::Period { start, end }),
            income: Some(MAX_AMOUNT),
            policy_version: 1,
            log_size: fold.state.size(),
            digest: vec![0; 32],
        });
        let doctored = coopledger::ledger::Settlement {
            repayments: [(common::entry_id(&expense_id), MAX_AMOUNT)].into(),
            shares_payouts: [("bob".to_string(), MAX_AMOUNT)].into(),
            ..Default::default()
        };
        fold.push_settled(&sign(&alice, body), Some(doctored))
            .expect("a record");
    }
    let later = fold.preview(FEB_2020, MAX_AMOUNT);
    assert!(
        later.report.repayments.values().all(|&a| a == 0),
        "nothing is left to repay: {:?}",
        later.report.repayments
    );
}
