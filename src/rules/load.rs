//! Loading rule files into a validated [`RuleSet`].
//!
//! Loading reads every `*.yml`/`*.yaml` file under a folder, parses it with
//! rsigma's Sigma parser, compiles every rule once to prove it compiles, and
//! checks what vigil adds: an `id` on every rule, the `vigil:` extension,
//! unique ids and resolvable correlation references. Every problem of every
//! file is collected, each with its file, line and field, so a rule author
//! sees them all at once; a set with any problem is refused whole.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rsigma_eval::{CorrelationAction, CorrelationConfig, CorrelationEngine, Engine};
use rsigma_parser::lint::{Severity as LintSeverity, lint_yaml_str};
use rsigma_parser::{CorrelationRule, Level, SigmaRule, parse_sigma_yaml};

use super::extension::{TestCase, VigilExtension};
use super::source::{RuleSource, SourceText};
use crate::incident::IncidentType;
use crate::signal::Severity;

/// One problem found in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleProblem {
    /// The file, as it was named when loaded.
    pub file: String,
    /// The 1-based line the problem is on, when it can be placed.
    pub line: Option<usize>,
    /// The field concerned, when there is one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A rule set that was refused, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleErrors {
    /// The problems, ordered by file and line.
    pub problems: Vec<RuleProblem>,
}

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the rules:", self.problems.len())?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// Whether a rule matches single events or aggregates other rules' matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A Sigma detection rule.
    Detection,
    /// A Sigma correlation rule.
    Correlation,
}

/// What vigil knows of one rule beyond its Sigma content.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMeta {
    /// The rule's `id`; signals are named by it.
    pub id: String,
    /// The rule's `title`.
    pub title: String,
    /// The file it came from.
    pub file: String,
    /// Detection or correlation.
    pub kind: RuleKind,
    /// Severity from the rule's `level` (medium when absent).
    pub severity: Severity,
    /// What a match contributes to an incident's score.
    pub score: f64,
    /// The incident type a match points to, if the rule names one.
    pub incident_type: Option<IncidentType>,
    /// The rule's test cases.
    pub tests: Vec<TestCase>,
}

/// Group-by fields whose every value lives in one shard: the user id the
/// router hashes, and the key id, since a key belongs to one account.
const SHARD_LOCAL_KEYS: [&str; 2] = ["user_id", "api_key_id"];

/// A validated, compiled-once set of rules, shared by every shard.
///
/// Correlations grouped by `user_id` or `api_key_id` run inside the shard
/// owning the user ("local"): a key belongs to one account, so all of a
/// key's events carry one user id and reach one shard. The others
/// ("global", such as those grouped by address) run in one stage that sees
/// every event matching the detection rules they reference.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<SigmaRule>,
    correlations: Vec<CorrelationRule>,
    meta: HashMap<String, Arc<RuleMeta>>,
    emitting: HashSet<String>,
    forwarded: HashSet<String>,
    global: HashSet<String>,
    files: usize,
}

impl RuleSet {
    /// A set with no rules.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// Loads every rule file under `dir`.
    ///
    /// # Errors
    /// Returns every problem found; an unreadable folder or file is one.
    pub fn load_dir(dir: &Path) -> Result<Self, RuleErrors> {
        let sources = RuleSource::read_dir(dir).map_err(|problem| RuleErrors {
            problems: vec![problem],
        })?;
        Self::from_sources(&sources)
    }

    /// Builds a set from rule texts already in memory.
    ///
    /// # Errors
    /// Returns every problem found in any of them.
    pub fn from_sources(sources: &[RuleSource]) -> Result<Self, RuleErrors> {
        let mut builder = Builder::default();
        for source in sources {
            builder.add_file(source);
        }
        builder.finish(sources.len())
    }

    /// Number of rules (detections and correlations).
    #[must_use]
    pub fn len(&self) -> usize {
        self.rules.len() + self.correlations.len()
    }

    /// Whether the set holds no rule.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of files the set was loaded from.
    #[must_use]
    pub fn files(&self) -> usize {
        self.files
    }

    /// What vigil knows of the rule with this id.
    #[must_use]
    pub fn meta(&self, id: &str) -> Option<&Arc<RuleMeta>> {
        self.meta.get(id)
    }

    /// Every rule, ordered by id.
    #[must_use]
    pub fn metas(&self) -> Vec<&Arc<RuleMeta>> {
        let mut metas: Vec<_> = self.meta.values().collect();
        metas.sort_by(|a, b| a.id.cmp(&b.id));
        metas
    }

    /// Whether a match of this detection rule is a signal of its own (it
    /// is not merely a building block of a correlation).
    #[must_use]
    pub fn emits(&self, id: &str) -> bool {
        self.emitting.contains(id)
    }

    /// Whether events matching this detection rule must reach the global
    /// correlation stage.
    #[must_use]
    pub fn forwards(&self, id: &str) -> bool {
        self.forwarded.contains(id)
    }

    /// Whether any correlation runs in the global stage.
    #[must_use]
    pub fn has_global(&self) -> bool {
        !self.global.is_empty()
    }

    /// Whether the shard stage has correlations to keep windows for.
    #[must_use]
    pub fn has_local_correlations(&self) -> bool {
        self.correlations.len() > self.global.len()
    }

    /// What a shard stage runs: every detection rule and the
    /// correlations grouped by user.
    #[must_use]
    pub(super) fn shard_part(&self) -> StagePart<'_> {
        StagePart {
            rules: self.rules.iter().collect(),
            correlations: self
                .correlations
                .iter()
                .filter(|c| !self.global.contains(&correlation_id(c)))
                .collect(),
        }
    }

    /// What the global stage runs: the detection rules it is fed and the
    /// correlations not grouped by user.
    #[must_use]
    pub(super) fn global_part(&self) -> StagePart<'_> {
        StagePart {
            rules: self
                .rules
                .iter()
                .filter(|r| {
                    r.id.as_deref()
                        .is_some_and(|id| self.forwarded.contains(id))
                })
                .collect(),
            correlations: self
                .correlations
                .iter()
                .filter(|c| self.global.contains(&correlation_id(c)))
                .collect(),
        }
    }
}

/// The part of a rule set one stage runs.
pub(super) struct StagePart<'s> {
    /// Detection rules, in load order.
    pub rules: Vec<&'s SigmaRule>,
    /// Correlations, in load order.
    pub correlations: Vec<&'s CorrelationRule>,
}

/// The settings every correlation engine runs with: event time is always
/// given explicitly, and a window starts afresh after it fires, so a long
/// attack raises a signal per threshold crossed rather than one per event.
pub(super) fn correlation_config() -> CorrelationConfig {
    CorrelationConfig {
        timestamp_fallback: rsigma_eval::TimestampFallback::Skip,
        action_on_match: CorrelationAction::Reset,
        ..CorrelationConfig::default()
    }
}

fn correlation_id(correlation: &CorrelationRule) -> String {
    correlation
        .id
        .clone()
        .unwrap_or_else(|| correlation.title.clone())
}

/// Accumulates files, then validates the whole set.
#[derive(Default)]
struct Builder {
    rules: Vec<(SigmaRule, String)>,
    correlations: Vec<(CorrelationRule, String)>,
    texts: BTreeMap<String, SourceText>,
    meta: HashMap<String, Arc<RuleMeta>>,
    problems: Vec<RuleProblem>,
}

impl Builder {
    fn add_file(&mut self, source: &RuleSource) {
        let text = SourceText::new(&source.text);
        let file = source.name.clone();
        self.lint(&file, &source.text);
        match parse_sigma_yaml(&source.text) {
            Ok(collection) => {
                for error in &collection.errors {
                    self.problem(&file, text.line_in_message(error), None, error.clone());
                }
                for filter in &collection.filters {
                    let line = text.line_of_id(filter.id.as_deref());
                    let message =
                        "filter rules are not supported; fold the condition into the rule";
                    self.problem(&file, line, Some("filter"), message.to_owned());
                }
                for rule in collection.rules {
                    self.add_rule(&file, &text, rule);
                }
                for correlation in collection.correlations {
                    self.add_correlation(&file, &text, correlation);
                }
            }
            Err(error) => {
                let message = error.to_string();
                self.problem(&file, text.line_in_message(&message), None, message);
            }
        }
        self.texts.insert(file, text);
    }

    fn lint(&mut self, file: &str, text: &str) {
        for warning in lint_yaml_str(text) {
            if warning.severity != LintSeverity::Error {
                continue;
            }
            let line = warning.span.map(|span| span.start_line as usize + 1);
            let field = Some(warning.path.trim_start_matches('/').replace('/', "."))
                .filter(|f| !f.is_empty());
            self.problems.push(RuleProblem {
                file: file.to_owned(),
                line,
                field,
                message: warning.message,
            });
        }
    }

    fn add_rule(&mut self, file: &str, text: &SourceText, rule: SigmaRule) {
        let Some(id) = self.require_id(file, text, rule.id.as_deref(), &rule.title) else {
            return;
        };
        if let Err(error) = Engine::new().add_rule(&rule) {
            let line = text.line_of_id(Some(&id));
            self.problem(file, line, Some("detection"), error.to_string());
        }
        let extension = self.extension(file, text, &id, rule.custom_attributes.get("vigil"));
        self.add_meta(
            file,
            &id,
            &rule.title,
            RuleKind::Detection,
            rule.level,
            extension,
        );
        self.rules.push((rule, file.to_owned()));
    }

    fn add_correlation(&mut self, file: &str, text: &SourceText, correlation: CorrelationRule) {
        let title = correlation.title.clone();
        let Some(id) = self.require_id(file, text, correlation.id.as_deref(), &title) else {
            return;
        };
        let vigil = correlation.custom_attributes.get("vigil");
        let extension = self.extension(file, text, &id, vigil);
        let level = correlation.level;
        self.add_meta(file, &id, &title, RuleKind::Correlation, level, extension);
        self.correlations.push((correlation, file.to_owned()));
    }

    fn require_id(
        &mut self,
        file: &str,
        text: &SourceText,
        id: Option<&str>,
        title: &str,
    ) -> Option<String> {
        let Some(id) = id.map(str::trim).filter(|id| !id.is_empty()) else {
            let line = text.line_of_key_value("title", title);
            let message = format!("rule {title:?} has no id; signals are named by the rule's id");
            self.problem(file, line, Some("id"), message);
            return None;
        };
        if let Some(known) = self.meta.get(id) {
            let line = text.line_of_id(Some(id));
            let message = format!("id {id:?} is already used in {}", known.file);
            self.problem(file, line, Some("id"), message);
            return None;
        }
        Some(id.to_owned())
    }

    fn extension(
        &mut self,
        file: &str,
        text: &SourceText,
        id: &str,
        value: Option<&yaml_serde::Value>,
    ) -> VigilExtension {
        let Some(value) = value else {
            return VigilExtension::default();
        };
        let parsed = serde_json::to_value(value)
            .map_err(|e| e.to_string())
            .and_then(|json| VigilExtension::parse(&json));
        parsed.unwrap_or_else(|message| {
            let line = text.line_of_key_in_doc(Some(id), "vigil");
            self.problem(file, line, Some("vigil"), message);
            VigilExtension::default()
        })
    }

    #[allow(clippy::too_many_arguments, reason = "one call site per rule kind")]
    fn add_meta(
        &mut self,
        file: &str,
        id: &str,
        title: &str,
        kind: RuleKind,
        level: Option<Level>,
        extension: VigilExtension,
    ) {
        let severity = level.map_or(Severity::Medium, severity_of);
        let meta = RuleMeta {
            id: id.to_owned(),
            title: title.to_owned(),
            file: file.to_owned(),
            kind,
            severity,
            score: extension.score.unwrap_or_else(|| default_score(severity)),
            incident_type: extension.incident_type,
            tests: extension.tests,
        };
        self.meta.insert(id.to_owned(), Arc::new(meta));
    }

    fn problem(&mut self, file: &str, line: Option<usize>, field: Option<&str>, message: String) {
        self.problems.push(RuleProblem {
            file: file.to_owned(),
            line,
            field: field.map(str::to_owned),
            message,
        });
    }

    fn finish(mut self, files: usize) -> Result<RuleSet, RuleErrors> {
        let names = self.reference_names();
        self.check_references(&names);
        self.check_correlations_compile();
        if !self.problems.is_empty() {
            self.problems.sort();
            self.problems.dedup();
            return Err(RuleErrors {
                problems: self.problems,
            });
        }
        let rules: Vec<SigmaRule> = self.rules.into_iter().map(|(r, _)| r).collect();
        let correlations: Vec<CorrelationRule> =
            self.correlations.into_iter().map(|(c, _)| c).collect();
        let placement = Placement::of(&rules, &correlations, &names);
        Ok(RuleSet {
            rules,
            correlations,
            meta: self.meta,
            emitting: placement.emitting,
            forwarded: placement.forwarded,
            global: placement.global,
            files,
        })
    }

    /// Every name a correlation may use to refer to a rule (its id, and
    /// its `name` when it has one), mapped to the rule's id.
    fn reference_names(&self) -> HashMap<String, String> {
        let rules = self
            .rules
            .iter()
            .map(|(r, _)| (r.id.clone(), r.name.clone()));
        let correlations = self
            .correlations
            .iter()
            .map(|(c, _)| (c.id.clone(), c.name.clone()));
        let mut names = HashMap::new();
        for (id, name) in rules.chain(correlations) {
            let Some(id) = id else { continue };
            if let Some(name) = name {
                names.insert(name, id.clone());
            }
            names.insert(id.clone(), id);
        }
        names
    }

    fn check_references(&mut self, names: &HashMap<String, String>) {
        let mut missing = Vec::new();
        for (correlation, file) in &self.correlations {
            for reference in &correlation.rules {
                if !names.contains_key(reference) {
                    missing.push((file.clone(), correlation.id.clone(), reference.clone()));
                }
            }
        }
        for (file, id, reference) in missing {
            let line = self
                .texts
                .get(&file)
                .and_then(|t| t.line_of_id(id.as_deref()));
            let message = format!("refers to rule {reference:?}, which no rule file defines");
            self.problem(&file, line, Some("correlation.rules"), message);
        }
    }

    /// Compiles each correlation against every detection rule, so errors
    /// in conditions, group-by fields or timespans surface at load time.
    fn check_correlations_compile(&mut self) {
        if self.correlations.is_empty() {
            return;
        }
        let mut engine = CorrelationEngine::new(correlation_config());
        for (rule, _) in &self.rules {
            let _ = engine.add_rule(rule);
        }
        let mut failures = Vec::new();
        for (correlation, file) in &self.correlations {
            if let Err(error) = engine.add_correlation(correlation) {
                failures.push((file.clone(), correlation.id.clone(), error.to_string()));
            }
        }
        for (file, id, message) in failures {
            let line = self
                .texts
                .get(&file)
                .and_then(|t| t.line_of_id(id.as_deref()));
            self.problem(&file, line, Some("correlation"), message);
        }
    }
}

/// Where each rule runs: which correlations need the global stage and
/// which detection rules feed it or raise signals of their own.
struct Placement {
    global: HashSet<String>,
    forwarded: HashSet<String>,
    emitting: HashSet<String>,
}

impl Placement {
    fn of(
        rules: &[SigmaRule],
        correlations: &[CorrelationRule],
        names: &HashMap<String, String>,
    ) -> Self {
        let refs: Vec<(String, Vec<String>, bool)> = correlations
            .iter()
            .map(|c| {
                let targets = c
                    .rules
                    .iter()
                    .filter_map(|r| names.get(r).cloned())
                    .collect();
                (correlation_id(c), targets, c.generate)
            })
            .collect();
        let correlation_ids: HashSet<&str> = refs.iter().map(|(id, _, _)| id.as_str()).collect();

        // A correlation is global when it is grouped by neither user nor
        // key, when it builds on a global correlation, or when a global one
        // builds on it.
        let mut global: HashSet<String> = correlations
            .iter()
            .filter(|c| {
                !c.group_by
                    .iter()
                    .any(|field| SHARD_LOCAL_KEYS.contains(&field.as_str()))
            })
            .map(correlation_id)
            .collect();
        loop {
            let before = global.len();
            for (id, targets, _) in &refs {
                let builds_on_global = targets.iter().any(|t| global.contains(t));
                if builds_on_global || global.contains(id) {
                    global.insert(id.clone());
                    for target in targets
                        .iter()
                        .filter(|t| correlation_ids.contains(t.as_str()))
                    {
                        global.insert(target.clone());
                    }
                }
            }
            if global.len() == before {
                break;
            }
        }

        let mut forwarded = HashSet::new();
        let mut referenced = HashSet::new();
        for (id, targets, generate) in &refs {
            for target in targets {
                if !generate {
                    referenced.insert(target.clone());
                }
                if global.contains(id) {
                    forwarded.insert(target.clone());
                }
            }
        }
        let emitting = rules
            .iter()
            .filter_map(|r| r.id.clone())
            .filter(|id| !referenced.contains(id))
            .collect();
        Self {
            global,
            forwarded,
            emitting,
        }
    }
}

/// The signal severity a Sigma level stands for.
#[must_use]
pub fn severity_of(level: Level) -> Severity {
    match level {
        Level::Informational | Level::Low => Severity::Low,
        Level::Medium => Severity::Medium,
        Level::High => Severity::High,
        Level::Critical => Severity::Critical,
    }
}

/// The score a match contributes when its rule names none.
#[must_use]
pub fn default_score(severity: Severity) -> f64 {
    match severity {
        Severity::Low => 0.3,
        Severity::Medium => 0.5,
        Severity::High => 0.75,
        Severity::Critical => 0.95,
    }
}

/// Paths of the rule files under `dir`, sorted, searched recursively.
///
/// # Errors
/// Returns the folder that could not be read.
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
