//! The score of a match: component weights, the components in [0, 1] and
//! a stored match with its reasons. The matcher computes them (crate
//! `sebroker-matching`); the store keeps them; alerts and pages show them.

use serde::{Deserialize, Serialize};

/// Component weights. The defaults were fitted on real award data (see
/// `sebroker evaluate` and the README); they sum to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub text: f64,
    pub cpv: f64,
    pub geography: f64,
    pub capacity: f64,
    pub timing: f64,
    pub suitability: f64,
    pub relationship: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            text: 0.40,
            cpv: 0.20,
            geography: 0.15,
            capacity: 0.05,
            timing: 0.05,
            suitability: 0.05,
            relationship: 0.10,
        }
    }
}

impl Weights {
    pub const NAMES: [&'static str; 7] = [
        "text",
        "cpv",
        "geography",
        "capacity",
        "timing",
        "suitability",
        "relationship",
    ];

    pub fn get(&self, name: &str) -> f64 {
        match name {
            "text" => self.text,
            "cpv" => self.cpv,
            "geography" => self.geography,
            "capacity" => self.capacity,
            "timing" => self.timing,
            "suitability" => self.suitability,
            "relationship" => self.relationship,
            _ => 0.0,
        }
    }

    pub fn set(&mut self, name: &str, v: f64) {
        match name {
            "text" => self.text = v,
            "cpv" => self.cpv = v,
            "geography" => self.geography = v,
            "capacity" => self.capacity = v,
            "timing" => self.timing = v,
            "suitability" => self.suitability = v,
            "relationship" => self.relationship = v,
            _ => {}
        }
    }

    /// Scales the weights to sum to 1 (all zero stays zero).
    pub fn normalised(mut self) -> Self {
        let sum: f64 = Self::NAMES.iter().map(|n| self.get(n)).sum();
        if sum > 0.0 {
            for n in Self::NAMES {
                self.set(n, self.get(n) / sum);
            }
        }
        self
    }
}

/// Each component in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
// A component added later reads as 0 in matches stored before it.
#[serde(default)]
pub struct Components {
    pub text: f64,
    pub cpv: f64,
    pub geography: f64,
    pub capacity: f64,
    pub timing: f64,
    pub suitability: f64,
    pub relationship: f64,
}

impl Components {
    pub fn score(&self, w: &Weights) -> f64 {
        let s = w.text * self.text
            + w.cpv * self.cpv
            + w.geography * self.geography
            + w.capacity * self.capacity
            + w.timing * self.timing
            + w.suitability * self.suitability
            + w.relationship * self.relationship;
        (s * 1000.0).round() / 1000.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub member_id: String,
    pub score: f64,
    pub components: Components,
    pub reasons: Vec<String>,
}
