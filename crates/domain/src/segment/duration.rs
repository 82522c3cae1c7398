//! ISO 8601 durations (`P90D`, `P1Y6M`, `PT12H`, `P2W`) for time-relative conditions.

use std::fmt;

use chrono::{DateTime, Months, TimeDelta, Utc};

/// The longest span a rule may look back: a hundred years.
const MAX_MONTHS: u32 = 1200;

/// A calendar-aware span of time: months (years count twelve) are subtracted on the
/// calendar, the rest as exact time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoDuration {
    months: u32,
    seconds: i64,
}

impl IsoDuration {
    /// Parses `PnYnMnWnDTnHnMnS` (integer parts only; at least one part).
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix('P')?;
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return None,
            None => (rest, None),
        };
        let mut months: u64 = 0;
        let mut seconds: u64 = 0;
        let mut parts = 0;
        for (n, unit) in pieces(date)? {
            parts += 1;
            match unit {
                'Y' => months = months.checked_add(n.checked_mul(12)?)?,
                'M' => months = months.checked_add(n)?,
                'W' => seconds = seconds.checked_add(n.checked_mul(7 * 86_400)?)?,
                'D' => seconds = seconds.checked_add(n.checked_mul(86_400)?)?,
                _ => return None,
            }
        }
        if let Some(t) = time {
            for (n, unit) in pieces(t)? {
                parts += 1;
                let per = match unit {
                    'H' => 3600,
                    'M' => 60,
                    'S' => 1,
                    _ => return None,
                };
                seconds = seconds.checked_add(n.checked_mul(per)?)?;
            }
        }
        let months = u32::try_from(months).ok()?;
        // The whole span, months counted as 31 days, stays within the limit.
        let total_days = u64::from(months) * 31 + seconds / 86_400;
        if parts == 0 || months > MAX_MONTHS || total_days > u64::from(MAX_MONTHS) * 31 {
            return None;
        }
        Some(Self {
            months,
            seconds: i64::try_from(seconds).ok()?,
        })
    }

    /// The instant this span before `now`.
    pub fn before(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let back = now.checked_sub_months(Months::new(self.months)).unwrap_or(now);
        back.checked_sub_signed(TimeDelta::seconds(self.seconds))
            .unwrap_or(back)
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        if self.months > 0 {
            write!(f, "{}M", self.months)?;
        }
        let days = self.seconds / 86_400;
        let rest = self.seconds % 86_400;
        if days > 0 {
            write!(f, "{days}D")?;
        }
        if rest > 0 || (self.months == 0 && days == 0) {
            write!(f, "T{rest}S")?;
        }
        Ok(())
    }
}

/// `12D3W` → [(12, 'D'), (3, 'W')]; `None` for anything else.
fn pieces(s: &str) -> Option<Vec<(u64, char)>> {
    let mut out = Vec::new();
    let mut digits = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            if digits.is_empty() || digits.len() > 9 {
                return None;
            }
            out.push((digits.parse().ok()?, ch));
            digits.clear();
        }
    }
    digits.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn durations_parse_and_subtract_on_the_calendar() {
        let now = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
        let d = IsoDuration::parse("P1M").unwrap();
        assert_eq!(d.before(now), Utc.with_ymd_and_hms(2026, 2, 28, 12, 0, 0).unwrap());
        let d = IsoDuration::parse("P90D").unwrap();
        assert_eq!(d.before(now), Utc.with_ymd_and_hms(2025, 12, 31, 12, 0, 0).unwrap());
        let d = IsoDuration::parse("P1Y2W").unwrap();
        assert_eq!(d.before(now), Utc.with_ymd_and_hms(2025, 3, 17, 12, 0, 0).unwrap());
        let d = IsoDuration::parse("PT1H30M").unwrap();
        assert_eq!(d.before(now), Utc.with_ymd_and_hms(2026, 3, 31, 10, 30, 0).unwrap());
    }

    #[test]
    fn malformed_or_huge_durations_are_refused() {
        for bad in [
            "", "P", "PT", "90D", "P-1D", "P1.5D", "P1X", "PT1D", "P1H", "P101Y", "P40000D", "P1DT",
        ] {
            assert!(IsoDuration::parse(bad).is_none(), "{bad}");
        }
    }
}
