//! Which rate values a contribution (§1's resolution order) and the value
//! that rate gives.
//!
//! Its own module because two steps need it and neither may depend on the
//! other: validation resolves every contribution's rate once and refuses a
//! value over 10^15, and the report and explanations say where each rate
//! came from. It depends only on [`Kind`].

use super::kind::Kind;

/// Where a contribution's rate came from (§1's resolution order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateFrom {
    /// The contribution's own `rate`.
    Own,
    /// `policy.rates[tag]`, by index into the policy's tags
    /// (`validate::PolicyTags`).
    Tag(u32),
    /// `policy.default_rates[kind]`.
    Default,
    /// Nothing resolved: the value is 0 and the report warns.
    Missing,
    /// Money and expenses need no rate.
    NotNeeded,
}

impl RateFrom {
    /// Whether a rate was applied (own, a tag's or the kind's default).
    pub(crate) fn has_rate(self) -> bool {
        matches!(self, RateFrom::Own | RateFrom::Tag(_) | RateFrom::Default)
    }
}

/// §1's order: money needs no rate; else the contribution's own rate
/// (`own`), the first of its tags with a rate in the policy (`tag`: that
/// tag's index among the policy's tags, and its rate), the kind's default
/// rate (`default`), or none.
#[inline]
pub(crate) fn resolve(
    kind: Kind,
    own: Option<u64>,
    tag: Option<(u32, u64)>,
    default: Option<u64>,
) -> (Option<u64>, RateFrom) {
    if kind.is_money() {
        (None, RateFrom::NotNeeded)
    } else if let Some(rate) = own {
        (Some(rate), RateFrom::Own)
    } else if let Some((position, rate)) = tag {
        (Some(rate), RateFrom::Tag(position))
    } else if let Some(rate) = default {
        (Some(rate), RateFrom::Default)
    } else {
        (None, RateFrom::Missing)
    }
}

/// value(c) in minor units, before the 10^15 limit is checked (so it is
/// u128: 10^15 × 10^15 does not fit u64).
pub(crate) fn value_of(kind: Kind, quantity: u64, rate: Option<u64>) -> u128 {
    let quantity = u128::from(quantity);
    match (kind, rate) {
        (Kind::Money | Kind::Expense, _) => quantity,
        // Nearly always the product fits u64, where dividing is one
        // instruction instead of a call to the 128-bit routine.
        (Kind::Work, Some(rate)) => match (quantity as u64).checked_mul(rate) {
            Some(product) => u128::from(product / 60),
            None => quantity * u128::from(rate) / 60,
        },
        (Kind::Resource | Kind::Use, Some(rate)) => quantity * u128::from(rate),
        (_, None) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_follows_the_kind() {
        assert_eq!(value_of(Kind::Work, 90, Some(3000)), 4500);
        // floor(7 minutes × 1000 / 60) = floor(116.67)
        assert_eq!(value_of(Kind::Work, 7, Some(1000)), 116);
        assert_eq!(value_of(Kind::Money, 12_000, Some(5)), 12_000);
        assert_eq!(value_of(Kind::Use, 10, Some(1500)), 15_000);
        assert_eq!(value_of(Kind::Resource, 10, None), 0);
    }

    #[test]
    fn the_rate_resolves_in_the_spec_order() {
        let own = Some(1);
        let tag = Some((7, 2));
        let default = Some(3);
        assert_eq!(
            resolve(Kind::Money, own, tag, default),
            (None, RateFrom::NotNeeded)
        );
        assert_eq!(
            resolve(Kind::Work, own, tag, default),
            (Some(1), RateFrom::Own)
        );
        assert_eq!(
            resolve(Kind::Use, None, tag, default),
            (Some(2), RateFrom::Tag(7))
        );
        assert_eq!(
            resolve(Kind::Resource, None, None, default),
            (Some(3), RateFrom::Default)
        );
        assert_eq!(
            resolve(Kind::Work, None, None, None),
            (None, RateFrom::Missing)
        );
    }
}
