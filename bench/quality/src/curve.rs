//! Bytes as a function of quality score: the points one encoder made at several qualities,
//! joined piecewise-linearly in log-bytes, so that two encoders can be compared at the same
//! score even though no quality setting of either lands on it exactly.

/// (score, bytes) points, sorted by score.
pub struct Curve {
    points: Vec<(f64, f64)>,
}

impl Curve {
    pub fn new(mut points: Vec<(f64, f64)>) -> Self {
        points.retain(|(score, bytes)| score.is_finite() && *bytes > 0.0);
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Curve { points }
    }

    /// The bytes needed for `score`; `None` outside the measured scores (no extrapolation).
    /// Where scores are not monotonic in bytes (a noisy point), the segment that spans the
    /// target first, from the low end, is used.
    pub fn bytes_at(&self, score: f64) -> Option<f64> {
        self.points.windows(2).find_map(|pair| {
            let ((s0, b0), (s1, b1)) = (pair[0], pair[1]);
            if !(s0..=s1).contains(&score) {
                return None;
            }
            if s1 == s0 {
                return Some(b0.min(b1));
            }
            let t = (score - s0) / (s1 - s0);
            Some((b0.ln() + t * (b1.ln() - b0.ln())).exp())
        })
    }
}

/// The geometric mean, the right average of ratios; `None` for none.
pub fn geometric_mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: f64 = values.iter().map(|v| v.ln()).sum();
    Some((sum / values.len() as f64).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_in_log_bytes_and_never_extrapolates() {
        let curve = Curve::new(vec![(80.0, 4000.0), (60.0, 1000.0), (70.0, 2000.0)]);
        assert!((curve.bytes_at(60.0).expect("an end") - 1000.0).abs() < 1e-9);
        // Halfway between 1000 and 2000 in log space is √2·1000.
        let mid = curve.bytes_at(65.0).expect("inside");
        assert!((mid - 1000.0 * 2f64.sqrt()).abs() < 1e-9, "{mid}");
        assert!((curve.bytes_at(80.0).expect("end") - 4000.0).abs() < 1e-9);
        assert_eq!(curve.bytes_at(59.9), None);
        assert_eq!(curve.bytes_at(80.1), None);
    }

    #[test]
    fn the_mean_of_ratios_is_geometric() {
        let mean = geometric_mean(&[0.5, 2.0]).expect("two values");
        assert!((mean - 1.0).abs() < 1e-12);
        assert_eq!(geometric_mean(&[]), None);
    }
}
