//! Parts per million as people read them: a percent (`50000` → `5%`) or a
//! factor (`1200000` → `×1.2`). Used in refusals (so a rule broken by
//! `percent_ppm` is also said in percent) and by the CLI's displays.

use super::limits::PPM;

/// ppm as a percent, exact, trailing zeros trimmed: 50000 → `5%`,
/// 125000 → `12.5%`, 333333 → `33.3333%`.
pub fn ppm_as_percent(ppm: u64) -> String {
    format!("{}%", decimal(ppm, PPM / 100))
}

/// ppm as a factor, exact, trailing zeros trimmed: 1200000 → `×1.2`.
pub fn ppm_as_factor(ppm: u64) -> String {
    format!("×{}", decimal(ppm, PPM))
}

/// `value / unit` written exactly in decimal (`unit` a power of ten), the
/// fraction's trailing zeros trimmed.
fn decimal(value: u64, unit: u64) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = unit.to_string().len() - 1;
    let text = format!("{whole}.{fraction:0digits$}");
    text.trim_end_matches('0').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_reads_as_percent_and_factor() {
        assert_eq!(ppm_as_percent(50_000), "5%");
        assert_eq!(ppm_as_percent(125_000), "12.5%");
        assert_eq!(ppm_as_percent(333_333), "33.3333%");
        assert_eq!(ppm_as_percent(0), "0%");
        assert_eq!(ppm_as_percent(1_200_000), "120%");
        assert_eq!(ppm_as_factor(1_200_000), "×1.2");
        assert_eq!(ppm_as_factor(1_000_000), "×1");
        assert_eq!(ppm_as_factor(1), "×0.000001");
    }
}
