//! Sigma rules: loading and validating rule files, evaluating them beside
//! the built-in detectors, testing them, and reloading them while running.
//!
//! Parsing and matching are rsigma's (`rsigma-parser`, `rsigma-eval`), which
//! cover Sigma's detection syntax (selections, field modifiers, conditions)
//! and compile its correlation rules (`event_count`, `value_count`,
//! `temporal`, `temporal_ordered` and more). vigil adds what a streaming,
//! sharded analyzer needs around them:
//!
//! - a field view of the typed event by the contract's names ([`fields`]);
//! - event-time correlation windows that behave as rsigma's correlation
//!   engine but count a `value_count` window's distinct values as entries
//!   come and go rather than recounting the window on every event
//!   ([`correlate`], [`window`]);
//! - placement: correlations grouped by `user_id` (or by `api_key_id`, as a
//!   key belongs to one account) run in the shard that owns the user, every
//!   other correlation in one global stage fed, in input order, with just
//!   the events its detection rules match ([`stage`]);
//! - the `vigil:` extension key, which sets a match's incident type and
//!   score and carries the rule's test events ([`extension`]);
//! - problems reported all at once with file, line and field ([`load`]);
//! - hot reload that keeps the windows of unchanged correlations
//!   ([`feed`], [`reload`]).

mod correlate;
mod extension;
mod feed;
mod fields;
mod load;
mod reload;
mod signals;
mod source;
mod stage;
mod testing;
mod window;

pub use correlate::CarriedState;
pub use extension::{Expectation, TestCase, TestStep, VigilExtension};
pub use feed::{ReloadStats, RuleFeed};
pub use fields::RuleEvent;
pub use load::{RuleErrors, RuleKind, RuleMeta, RuleProblem, RuleSet, default_score, severity_of};
pub use reload::{RuleWatcher, reload_once};
pub use source::{RuleSource, SourceText};
pub use stage::{RuleStage, StageKind, StageState};
pub use testing::{CaseOutcome, run_rule_tests};
