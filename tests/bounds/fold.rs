//! At the library level: fold arbitrary signed entries through `check` and
//! `apply` as the sequencer does; whatever `check` accepts, every period
//! previews, before and after distributions are recorded.

use super::*;

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
