//! Severity from CVSS vectors (FIRST CVSS v3.1 specification §7 base score, CVSS v4.0
//! specification §8 "CVSS-B"), computed with the `cvss` crate; an advisory with no parsable v3/v4
//! vector is [`Severity::Unscored`], never silently "low".

use core::fmt;
use core::str::FromStr;

/// Qualitative rating (CVSS v3.1 §5, v4.0 §6): none 0.0, low 0.1-3.9, medium 4.0-6.9,
/// high 7.0-8.9, critical 9.0-10.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SeverityLevel {
    /// 0.0.
    None,
    /// 0.1-3.9.
    Low,
    /// 4.0-6.9.
    Medium,
    /// 7.0-8.9.
    High,
    /// 9.0-10.0.
    Critical,
}

impl SeverityLevel {
    /// From a score in tenths (0..=100).
    pub fn from_tenths(t: u8) -> SeverityLevel {
        match t {
            0 => SeverityLevel::None,
            1..=39 => SeverityLevel::Low,
            40..=69 => SeverityLevel::Medium,
            70..=89 => SeverityLevel::High,
            _ => SeverityLevel::Critical,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SeverityLevel::None => "none",
            SeverityLevel::Low => "low",
            SeverityLevel::Medium => "medium",
            SeverityLevel::High => "high",
            SeverityLevel::Critical => "critical",
        }
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<SeverityLevel> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" => SeverityLevel::None,
            "low" => SeverityLevel::Low,
            "medium" | "moderate" => SeverityLevel::Medium,
            "high" => SeverityLevel::High,
            "critical" => SeverityLevel::Critical,
            _ => return None,
        })
    }
}

/// The severity the gate uses for an advisory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Severity {
    /// No usable CVSS v3.x/v4.0 vector.
    Unscored,
    /// A base score computed from a vector.
    Scored {
        /// Base score in tenths (98 = 9.8).
        tenths: u8,
        /// The vector it was computed from.
        vector: String,
    },
}

impl Severity {
    /// Computes the base score of a CVSS v3.0/v3.1/v4.0 vector; `None` if it does not parse.
    pub fn from_vector(vector: &str) -> Option<Severity> {
        let cvss = cvss::Cvss::from_str(vector.trim()).ok()?;
        if matches!(cvss, cvss::Cvss::CvssV20(_)) {
            return None;
        }
        let score = cvss.score();
        if !(0.0..=10.0).contains(&score) {
            return None;
        }
        let tenths = (score * 10.0).round() as u8;
        Some(Severity::Scored {
            tenths,
            vector: vector.trim().to_owned(),
        })
    }

    /// The higher of two severities (a scored one beats unscored).
    pub fn max(self, other: Severity) -> Severity {
        match (&self, &other) {
            (Severity::Unscored, _) => other,
            (_, Severity::Unscored) => self,
            (Severity::Scored { tenths: a, .. }, Severity::Scored { tenths: b, .. }) => {
                if b > a {
                    other
                } else {
                    self
                }
            }
        }
    }

    /// The qualitative level, if scored.
    pub fn level(&self) -> Option<SeverityLevel> {
        match self {
            Severity::Unscored => None,
            Severity::Scored { tenths, .. } => Some(SeverityLevel::from_tenths(*tenths)),
        }
    }

    /// The base score, if scored.
    pub fn score(&self) -> Option<f64> {
        match self {
            Severity::Unscored => None,
            Severity::Scored { tenths, .. } => Some(f64::from(*tenths) / 10.0),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Severity::Unscored => f.write_str("unscored"),
            Severity::Scored { tenths, .. } => write!(
                f,
                "{} ({}.{})",
                SeverityLevel::from_tenths(*tenths).as_str(),
                tenths / 10,
                tenths % 10
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v31_and_v40_base_scores() {
        let v3 = Severity::from_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!(v3.score(), Some(9.8));
        assert_eq!(v3.level(), Some(SeverityLevel::Critical));
        let v4 = Severity::from_vector(
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        )
        .unwrap();
        assert_eq!(v4.score(), Some(9.3));
        let v4_low = Severity::from_vector(
            "CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N",
        )
        .unwrap();
        assert_eq!(v4_low.score(), Some(2.3));
        assert_eq!(v4_low.level(), Some(SeverityLevel::Low));
        assert_eq!(Severity::from_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
        assert_eq!(Severity::from_vector("garbage"), None);
        assert_eq!(Severity::Unscored.max(v3.clone()), v3);
    }
}
