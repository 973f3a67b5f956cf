//! Properties of the money: conserved, nobody repaid beyond what is owed,
//! input order irrelevant, and payouts unchanged when rates and money scale
//! together.

use super::*;

proptest! {
    #![proptest_config(config(160))]

    /// Σ payouts + reserve = income; every listed payout is positive; every
    /// bucket pays at most its amount, and the buckets' payments are the
    /// payouts.
    #[test]
    fn money_is_conserved(shape in shape()) {
        let input = build(&shape);
        let report = score(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let paid: u128 = report.payouts.values().map(|&v| u128::from(v)).sum();
        prop_assert_eq!(paid + u128::from(report.reserve), u128::from(input.income));
        for (name, &amount) in &report.payouts {
            prop_assert!(amount > 0, "{} listed with a zero payout", name);
        }
        let mut by_buckets: BTreeMap<&str, u64> = BTreeMap::new();
        for bucket in &report.buckets {
            let bucket_paid: u64 = bucket.paid.values().sum();
            prop_assert!(bucket_paid <= bucket.amount);
            prop_assert_eq!(bucket_paid + bucket.unpaid, bucket.amount);
            for (name, &amount) in &bucket.paid {
                *by_buckets.entry(name.as_str()).or_insert(0) += amount;
            }
        }
        let payouts: BTreeMap<&str, u64> =
            report.payouts.iter().map(|(k, &v)| (k.as_str(), v)).collect();
        prop_assert_eq!(by_buckets, payouts);
        // Negative amounts cannot be represented (u64); the JSON must say so too.
        let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        for amount in json["payouts"].as_object().unwrap().values() {
            prop_assert!(amount.as_u64().is_some_and(|v| v > 0), "{}", amount);
        }
    }

    /// No contribution is repaid beyond what it is owed: value − prior
    /// repayments, across all reimburse buckets of the distribution.
    #[test]
    fn nobody_is_repaid_beyond_what_is_owed(shape in shape()) {
        let input = build(&shape);
        let report = score(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut prior: BTreeMap<&str, u64> = BTreeMap::new();
        for repayment in &input.prior_repayments {
            *prior.entry(repayment.contribution.as_str()).or_insert(0) += repayment.amount;
        }
        for (id, &repaid) in &report.repayments {
            let contribution = input.contributions.iter().find(|c| &c.id == id).unwrap();
            let value = value_by_spec(&input, contribution);
            let already = prior.get(id.as_str()).copied().unwrap_or(0);
            prop_assert!(
                repaid <= value.saturating_sub(already),
                "{} repaid {} with value {} and {} repaid before", id, repaid, value, already
            );
            prop_assert!(contribution.at < END);
        }
    }

    /// Reordering members, contributions, evaluations of distinct
    /// (contribution, evaluator) pairs, allocations of distinct givers and
    /// prior amounts leaves the report byte-identical.
    #[test]
    fn input_order_does_not_matter(shape in shape(), seed in any::<u64>()) {
        let mut input = build(&shape);
        // Keep only the standing evaluation of each pair and the standing
        // allocation of each giver: their relative order is meaningful.
        let mut seen = std::collections::BTreeSet::new();
        let mut evaluations: Vec<Evaluation> = input
            .evaluations
            .iter()
            .rev()
            .filter(|e| seen.insert((e.contribution.clone(), e.evaluator.clone())))
            .cloned()
            .collect();
        evaluations.reverse();
        input.evaluations = evaluations;
        let mut givers = std::collections::BTreeSet::new();
        let mut allocations: Vec<Allocation> = input
            .allocations
            .iter()
            .rev()
            .filter(|a| givers.insert(a.from.clone()))
            .cloned()
            .collect();
        allocations.reverse();
        input.allocations = allocations;

        let mut reordered = input.clone();
        reordered.members = shuffled(&input.members, seed);
        reordered.contributions = shuffled(&input.contributions, seed.rotate_left(7));
        reordered.evaluations = shuffled(&input.evaluations, seed.rotate_left(17));
        reordered.allocations = shuffled(&input.allocations, seed.rotate_left(29));
        reordered.prior_repayments = shuffled(&input.prior_repayments, seed.rotate_left(37));
        reordered.prior_payouts = shuffled(&input.prior_payouts, seed.rotate_left(47));
        let first = score(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let second = score(&reordered).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(first.to_json().unwrap(), second.to_json().unwrap());
    }
}

/// The scaling property's inputs: every value a multiple of 10^8 and every
/// multiplier a whole factor, so every division of §1 and §3 is exact.
fn exact_shape() -> impl Strategy<Value = (Shape, u64)> {
    (shape(), 2u64..6).prop_map(|(mut shape, k)| {
        for spec in &mut shape.contributions {
            // Work: whole hours; others any quantity.
            spec.2 = (spec.2 % 50) * 60;
            spec.3 = spec.3.map(|r| (r % 7 + 1) * 100_000_000);
        }
        shape.rates = (
            shape.rates.0.map(|r| (r % 5 + 1) * 100_000_000),
            shape.rates.1.map(|r| (r % 5 + 1) * 100_000_000),
            shape.rates.2.map(|r| (r % 5 + 1) * 100_000_000),
        );
        shape.multipliers = (
            shape.multipliers.0.map(|m| (m % 3 + 1) * 1_000_000),
            shape.multipliers.1.map(|m| (m % 3 + 1) * 1_000_000),
        );
        // Reimbursement repays debts in absolute minor units: scaling what
        // is owed while the income stays put changes what can be repaid, so
        // it is not part of this property.
        for bucket in &mut shape.buckets {
            if bucket.0 == 1 {
                bucket.0 = 2;
            }
        }
        (shape, k)
    })
}

fn scale_money(input: &mut ScoringInput, k: u64) {
    for c in &mut input.contributions {
        c.rate = c.rate.map(|r| r * k);
        if c.kind.is_money() {
            // Money quantities become multiples of 10^8 too, then scale.
            c.quantity *= k;
        }
    }
    let policy = &mut input.policy.policy;
    policy.default_rates.values_mut().for_each(|r| *r *= k);
    policy.rates.values_mut().for_each(|r| *r *= k);
}

proptest! {
    #![proptest_config(config(96))]

    /// Multiplying every rate and every money quantity by k leaves every
    /// payout unchanged when the divisions are exact; points scale by k.
    #[test]
    fn scaling_rates_and_money_leaves_payouts_unchanged((shape, k) in exact_shape()) {
        let mut input = build(&shape);
        for c in &mut input.contributions {
            if c.kind.is_money() {
                c.quantity = (c.quantity % 9 + 1) * 100_000_000;
            }
        }
        let mut scaled = input.clone();
        scale_money(&mut scaled, k);
        let before = score(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let after = score(&scaled).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&before.payouts, &after.payouts);
        prop_assert_eq!(before.reserve, after.reserve);
        let tripled: BTreeMap<String, u128> = before
            .points
            .iter()
            .map(|(m, &p)| (m.clone(), p * u128::from(k)))
            .collect();
        prop_assert_eq!(tripled, after.points);
    }
}

// ---------------------------------------------------------------------------
