//! The collusion signals of a report (SCORING.md §6.1) in words a
//! treasurer understands: one line per signal, with the integers behind it.
//!
//! Averages are written from integer math only: exact when the division is,
//! else to one decimal with the sum and count beside it, so no figure is
//! rounder than the evidence.

use serde_json::Value;

/// What every line ends with: signals change nothing.
const INFORMATIONAL: &str = "informational, it changes no payout";

/// The lines for every signal of `signals` (the report's `signals` array)
/// whose members include `only` (every signal when `None`). `period` is
/// the `--period` the treasurer gave, for the commands the lines point at.
pub fn signal_lines(signals: &Value, only: Option<&str>, period: &str) -> Vec<String> {
    signals
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| only.is_none_or(|m| members_of(s).iter().any(|x| x == m)))
        .map(|s| signal_line(s, period))
        .collect()
}

fn members_of(signal: &Value) -> Vec<String> {
    signal["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m.as_str().unwrap_or("?").to_string())
        .collect()
}

/// "a", "a and b", "a, b and c".
fn and_list(names: &[String]) -> String {
    match names {
        [] => "nobody".to_string(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `sum / count` in words: "an average of 95", "an average of 95.3
/// (286/3)"; integer math, rounded half up to one decimal.
fn average(sum: u64, count: u64) -> String {
    if count == 0 {
        return "no rating".to_string();
    }
    if sum.is_multiple_of(count) {
        return format!("{}", sum / count);
    }
    let tenths = (u128::from(sum) * 10 + u128::from(count) / 2) / u128::from(count);
    format!("{}.{} ({sum}/{count})", tenths / 10, tenths % 10)
}

/// "gave bo 2 ratings averaging 95", "gave ana 1 rating of 100".
fn ratings(sum: u64, count: u64) -> String {
    if count == 1 {
        format!("1 rating of {sum}")
    } else {
        format!("{count} ratings averaging {}", average(sum, count))
    }
}

/// "others rate ana 60 on average (3 ratings)", or that nobody else did.
fn others(member: &str, sum: u64, count: u64) -> String {
    match count {
        0 => format!("nobody else rated {member}'s work"),
        1 => format!("{member} {sum} (1 rating)"),
        _ => format!(
            "{member} {} on average ({count} ratings)",
            average(sum, count)
        ),
    }
}

/// The command that lists a member's entries of the period.
fn entries_command(member: &str, period: &str) -> String {
    format!("`coopledger entries --member {member} --period {period}`")
}

/// One signal in words.
pub fn signal_line(signal: &Value, period: &str) -> String {
    let kind = signal["kind"].as_str().unwrap_or("?");
    let members = members_of(signal);
    let d = |key: &str| signal["detail"][key].as_u64().unwrap_or(0);
    let who = and_list(&members);
    let text = match (kind, members.as_slice()) {
        ("reciprocal_ratings", [a, b]) => {
            let (others_a, others_b) = (
                others(a, d("others_rate_a_sum"), d("others_rate_a_count")),
                others(b, d("others_rate_b_sum"), d("others_rate_b_count")),
            );
            let others_text = match (d("others_rate_a_count"), d("others_rate_b_count")) {
                (0, 0) => format!("nobody else rated {a}'s or {b}'s work"),
                (0, _) => format!("{others_a}; others rate {others_b}"),
                (_, 0) => format!("others rate {others_a}; {others_b}"),
                _ => format!("others rate {others_a}, {others_b}"),
            };
            format!(
                "{a} and {b} rate each other well above what others give them: {a} gave {b} {}, {b} gave {a} {}; {others_text} — {INFORMATIONAL}; the rated work: {} and {}",
                ratings(d("a_rates_b_sum"), d("a_rates_b_count")),
                ratings(d("b_rates_a_sum"), d("b_rates_a_count")),
                entries_command(a, period),
                entries_command(b, period),
            )
        }
        ("closed_approval_ring", _) => format!(
            "{who} approve only each other's work: all {} approval(s) of their {} approved contribution(s) this period come from inside the group — {INFORMATIONAL}; {} lists each one's (for each member)",
            d("approvals"),
            d("contributions"),
            entries_command("MEMBER", period),
        ),
        ("give_reciprocity", [a, b]) => format!(
            "{a} and {b} give each other a large part of their allocations: {a} gives {b} {}%, {b} gives {a} {}% — {INFORMATIONAL}",
            d("a_gives_b"),
            d("b_gives_a"),
        ),
        ("untrusted_approvals", [m]) => format!(
            "{m} has {} contribution(s) this period with enough approvals whose approvers hold too little trust (the policy's trust rule does not count them as valid) — {INFORMATIONAL}; {} lists them",
            d("contributions"),
            entries_command(m, period),
        ),
        _ => {
            let detail: Vec<String> = signal["detail"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            format!(
                "{kind} for {who}: {} — {INFORMATIONAL}",
                if detail.is_empty() {
                    "no detail".to_string()
                } else {
                    detail.join(", ")
                }
            )
        }
    };
    format!("signal: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_kind_in_words() {
        let table = [
            (
                json!({"kind": "reciprocal_ratings", "members": ["ana", "bo"], "detail": {
                    "a_rates_b_sum": 190, "a_rates_b_count": 2,
                    "b_rates_a_sum": 100, "b_rates_a_count": 1,
                    "others_rate_a_sum": 180, "others_rate_a_count": 3,
                    "others_rate_b_sum": 110, "others_rate_b_count": 2}}),
                "signal: ana and bo rate each other well above what others give them: ana gave bo 2 ratings averaging 95, bo gave ana 1 rating of 100; others rate ana 60 on average (3 ratings), bo 55 on average (2 ratings) — informational, it changes no payout; the rated work: `coopledger entries --member ana --period 2026-11` and `coopledger entries --member bo --period 2026-11`",
            ),
            (
                json!({"kind": "reciprocal_ratings", "members": ["ana", "bo"], "detail": {
                    "a_rates_b_sum": 286, "a_rates_b_count": 3,
                    "b_rates_a_sum": 95, "b_rates_a_count": 1,
                    "others_rate_a_sum": 0, "others_rate_a_count": 0,
                    "others_rate_b_sum": 40, "others_rate_b_count": 1}}),
                "signal: ana and bo rate each other well above what others give them: ana gave bo 3 ratings averaging 95.3 (286/3), bo gave ana 1 rating of 95; nobody else rated ana's work; others rate bo 40 (1 rating) — informational, it changes no payout; the rated work: `coopledger entries --member ana --period 2026-11` and `coopledger entries --member bo --period 2026-11`",
            ),
            (
                json!({"kind": "closed_approval_ring", "members": ["ana", "bo", "cy"],
                    "detail": {"approvals": 7, "contributions": 5}}),
                "signal: ana, bo and cy approve only each other's work: all 7 approval(s) of their 5 approved contribution(s) this period come from inside the group — informational, it changes no payout; `coopledger entries --member MEMBER --period 2026-11` lists each one's (for each member)",
            ),
            (
                json!({"kind": "give_reciprocity", "members": ["ann", "bo"],
                    "detail": {"a_gives_b": 70, "b_gives_a": 50}}),
                "signal: ann and bo give each other a large part of their allocations: ann gives bo 70%, bo gives ann 50% — informational, it changes no payout",
            ),
            (
                json!({"kind": "untrusted_approvals", "members": ["eve"],
                    "detail": {"contributions": 2}}),
                "signal: eve has 2 contribution(s) this period with enough approvals whose approvers hold too little trust (the policy's trust rule does not count them as valid) — informational, it changes no payout; `coopledger entries --member eve --period 2026-11` lists them",
            ),
            (
                json!({"kind": "something_new", "members": ["ann"], "detail": {"x": 1}}),
                "signal: something_new for ann: x 1 — informational, it changes no payout",
            ),
        ];
        for (signal, line) in table {
            assert_eq!(signal_line(&signal, "2026-11"), line);
        }
    }

    #[test]
    fn averages_come_from_integer_math() {
        assert_eq!(average(190, 2), "95");
        assert_eq!(average(286, 3), "95.3 (286/3)");
        assert_eq!(average(200, 3), "66.7 (200/3)");
        assert_eq!(average(1, 20), "0.1 (1/20)");
        assert_eq!(
            average(u64::MAX, 2),
            "9223372036854775807.5 (18446744073709551615/2)"
        );
        assert_eq!(average(0, 0), "no rating");
    }

    #[test]
    fn only_the_signals_naming_a_member() {
        let signals = json!([
            {"kind": "give_reciprocity", "members": ["ann", "bo"], "detail": {"a_gives_b": 70, "b_gives_a": 50}},
            {"kind": "untrusted_approvals", "members": ["cy"], "detail": {"contributions": 1}}
        ]);
        assert_eq!(signal_lines(&signals, None, "2026-11").len(), 2);
        let bo = signal_lines(&signals, Some("bo"), "2026-11");
        assert_eq!(bo.len(), 1);
        assert!(bo[0].starts_with("signal: ann and bo give"), "{}", bo[0]);
        assert!(signal_lines(&signals, Some("dan"), "2026-11").is_empty());
        assert!(signal_lines(&Value::Null, None, "2026-11").is_empty());
    }
}
