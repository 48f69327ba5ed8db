// SPDX-License-Identifier: GPL-2.0

//! Median and spread of a handful of repetitions.

/// Summary of one set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// First and third quartiles (linear interpolation between ranks).
    pub q1: f64,
    pub q3: f64,
}

/// The `q` quantile (0..=1) of sorted samples, interpolating linearly.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

/// Summarises finite samples; `None` when there are none.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Some(Summary {
        n: s.len(),
        median: quantile(&s, 0.5),
        min: s[0],
        max: s[s.len() - 1],
        q1: quantile(&s, 0.25),
        q3: quantile(&s, 0.75),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_and_even() {
        let s = summarize(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!(
            (s.n, s.median, s.min, s.max, s.q1, s.q3),
            (5, 3.0, 1.0, 5.0, 2.0, 4.0)
        );
        let s = summarize(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.q1, 1.75);
    }

    #[test]
    fn empty_and_nan() {
        assert!(summarize(&[]).is_none());
        assert!(summarize(&[f64::NAN]).is_none());
        assert_eq!(summarize(&[f64::NAN, 7.0]).unwrap().median, 7.0);
    }
}
