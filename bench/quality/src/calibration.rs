//! What keeps a spec's quality number meaning what it meant: for each quality, the jpegli
//! distance at which jpegli scores what libjpeg-turbo's baseline scored (`Calibration`, the data
//! behind `imgpipe::image::distance_for_spec_quality`), and how the pipeline's encoder compares
//! with the old one at each spec's own quality (`SpecQuality`).

use std::collections::BTreeMap;

use imgpipe::image::jpegli;

use crate::curve::{geometric_mean, Curve};

/// (quality, SSIMULACRA2 score, bytes) of one encoder on one variant.
pub type Scores = [(u8, f64, usize)];

/// Per quality: libjpeg-turbo's score on each variant, and the jpegli distance that matches it.
pub struct Calibration {
    by_quality: BTreeMap<u8, (Vec<f64>, Vec<f64>)>,
}

impl Calibration {
    pub fn new(qualities: &[u8]) -> Self {
        Calibration {
            by_quality: qualities
                .iter()
                .map(|&q| (q, (Vec::new(), Vec::new())))
                .collect(),
        }
    }

    /// One variant: `turbo`'s scores and `jpegli`'s, the latter at jpegli's own distances.
    pub fn add(&mut self, turbo: &Scores, jpegli: &Scores) {
        // Distance against score, joined in log-distance as bytes are (a curve of its own).
        let distance_at = Curve::new(
            jpegli
                .iter()
                .map(|&(q, score, _)| (score, f64::from(jpegli::distance_for_quality(q))))
                .collect(),
        );
        for &(quality, score, _) in turbo {
            let Some((scores, distances)) = self.by_quality.get_mut(&quality) else {
                continue;
            };
            scores.push(score);
            if let Some(distance) = distance_at.bytes_at(score) {
                distances.push(distance);
            }
        }
    }

    pub fn table(&self, label: &str) -> String {
        let mut out = format!(
            "## Quality mapping: the distance at which {label} scores what libjpeg-turbo's baseline scored\n\n\
             | quality | libjpeg-turbo score (median) | matching distance: median | geometric mean | range | n | jpegli's own distance |\n\
             |---|---|---|---|---|---|---|\n"
        );
        for (&quality, (scores, distances)) in &self.by_quality {
            let (Some(score), Some(distance)) = (median(scores), median(distances)) else {
                continue;
            };
            let low = distances.iter().copied().fold(f64::INFINITY, f64::min);
            let high = distances.iter().copied().fold(0.0, f64::max);
            out.push_str(&format!(
                "| {quality} | {score:.1} | {distance:.3} | {:.3} | {low:.2}–{high:.2} | {} | {:.3} |\n",
                geometric_mean(distances).unwrap_or(f64::NAN),
                distances.len(),
                jpegli::distance_for_quality(quality)
            ));
        }
        out
    }
}

/// Per variant name: the pipeline against libjpeg-turbo's baseline, both at the spec's quality.
#[derive(Default)]
pub struct SpecQuality {
    by_variant: BTreeMap<String, (u8, Vec<f64>, Vec<f64>)>,
}

impl SpecQuality {
    pub fn add(&mut self, variant: &str, quality: u8, turbo: &Scores, pipeline: &Scores) {
        let at = |scores: &Scores| scores.iter().find(|s| s.0 == quality).copied();
        let (Some((_, old_score, old_bytes)), Some((_, new_score, new_bytes))) =
            (at(turbo), at(pipeline))
        else {
            return;
        };
        let entry = self
            .by_variant
            .entry(variant.to_owned())
            .or_insert_with(|| (quality, Vec::new(), Vec::new()));
        entry.1.push(new_score - old_score);
        entry.2.push(new_bytes as f64 / old_bytes as f64);
    }

    pub fn table(&self) -> String {
        let mut out = "## At each spec's quality: imgpipe against libjpeg-turbo's baseline\n\n\
             | variant | quality | SSIMULACRA2 difference: mean | lowest | bytes (geometric mean ratio) | n |\n\
             |---|---|---|---|---|---|\n"
            .to_owned();
        for (variant, (quality, differences, ratios)) in &self.by_variant {
            let mean = differences.iter().sum::<f64>() / differences.len() as f64;
            let lowest = differences.iter().copied().fold(f64::INFINITY, f64::min);
            out.push_str(&format!(
                "| {variant} | {quality} | {mean:+.2} | {lowest:+.2} | {:.3} | {} |\n",
                geometric_mean(ratios).unwrap_or(f64::NAN),
                differences.len()
            ));
        }
        out
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}
