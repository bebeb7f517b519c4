//! The report's figures, each one SQL query over the archive restricted
//! to the period's day partitions.

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use super::{Count, Period, Report, TypeSeverity, recommendations, score};
use crate::archive::{ArchiveQuery, QueryError};
use crate::signal::Severity;

/// Entries kept in each "top" list.
const TOP: usize = 10;

/// Gathers the report for `period`.
///
/// # Errors
/// A query failed.
pub fn gather(query: &ArchiveQuery, period: Period) -> Result<Report, QueryError> {
    let sql = Sql::new(period);
    let totals = totals(query, &sql)?;
    let by_type_and_severity = sql.rows(
        query,
        "{latest} SELECT type, severity, count(*) AS n FROM latest GROUP BY type, severity \
         ORDER BY n DESC, type, severity",
    )?;
    let incidents_by_type_and_severity: Vec<TypeSeverity> = by_type_and_severity
        .iter()
        .map(|row| TypeSeverity {
            incident_type: text(row, "type"),
            severity: text(row, "severity"),
            count: number(row, "n"),
        })
        .collect();
    let mut report = Report {
        from: period.from.to_string(),
        to: period.to.to_string(),
        events: number(&totals, "events"),
        active_users: number(&totals, "users"),
        events_by_type: sql.counts(
            query,
            "SELECT event_type AS name, count(*) AS n FROM events WHERE {events} \
             GROUP BY event_type ORDER BY n DESC, name",
        )?,
        authentications: number(&totals, "auths"),
        failed_authentications: number(&totals, "failed"),
        top_failed_login_users: sql.counts(
            query,
            &format!(
                "SELECT user_id AS name, count(*) AS n FROM events WHERE {{events}} \
                 AND event_type = 'authentication' AND NOT success \
                 GROUP BY user_id ORDER BY n DESC, name LIMIT {TOP}"
            ),
        )?,
        incidents: incidents_by_type_and_severity.iter().map(|c| c.count).sum(),
        incidents_by_type: sum_by(&incidents_by_type_and_severity, |c| &c.incident_type),
        incidents_by_severity: by_severity(&incidents_by_type_and_severity),
        incidents_by_type_and_severity,
        incidents_per_day: per_day(
            period,
            &sql.counts(
                query,
                "{latest} SELECT date AS name, count(*) AS n FROM latest GROUP BY date",
            )?,
        ),
        unresolved_serious: sql.count(
            query,
            "{latest} SELECT count(*) AS n FROM latest \
             WHERE severity IN ('high', 'critical') AND status <> 'resolved'",
        )?,
        resolved: 0,
        mean_time_to_resolve_secs: None,
        actions_by_outcome: sql.counts(
            query,
            "SELECT outcome AS name, count(*) AS n FROM actions WHERE {actions} \
             GROUP BY outcome ORDER BY n DESC, name",
        )?,
        top_users: sql.counts(
            query,
            &format!(
                "{{latest}} SELECT user_id AS name, count(*) AS n FROM latest \
                 WHERE user_id <> '' GROUP BY user_id ORDER BY n DESC, name LIMIT {TOP}"
            ),
        )?,
        top_ips: sql.counts(
            query,
            &format!(
                "{{latest}} SELECT name, count(*) AS n FROM \
                 (SELECT unnest(ips) AS name FROM latest) GROUP BY name \
                 ORDER BY n DESC, name LIMIT {TOP}"
            ),
        )?,
        top_signals: sql.counts(
            query,
            "{latest} SELECT name, count(*) AS n FROM \
             (SELECT DISTINCT incident_id, unnest(signal_names) AS name FROM latest) \
             GROUP BY name ORDER BY n DESC, name",
        )?,
        score: 0,
        score_parts: super::ScoreParts::default(),
        recommendations: Vec::new(),
    };
    (report.resolved, report.mean_time_to_resolve_secs) = resolution(query, &sql)?;
    let (value, parts) = score(&report);
    report.score = value;
    report.score_parts = parts;
    report.recommendations = recommendations(&report);
    Ok(report)
}

/// Events, users, authentications and failed ones, in one row.
fn totals(query: &ArchiveQuery, sql: &Sql) -> Result<Map<String, Value>, QueryError> {
    let rows = sql.rows(
        query,
        "SELECT count(*) AS events, count(DISTINCT user_id) AS users, \
         sum(CASE WHEN event_type = 'authentication' THEN 1 ELSE 0 END) AS auths, \
         sum(CASE WHEN event_type = 'authentication' AND NOT success THEN 1 ELSE 0 END) \
         AS failed FROM events WHERE {events}",
    )?;
    Ok(rows.into_iter().next().unwrap_or_default())
}

/// Incidents with a resolved revision, and the mean time from their first
/// signal to that revision. Incident records carry no resolution time of
/// their own, so the resolved revision's `last_seen` stands for it.
fn resolution(query: &ArchiveQuery, sql: &Sql) -> Result<(u64, Option<f64>), QueryError> {
    let rows = sql.rows(
        query,
        "SELECT count(*) AS n, avg(resolved_ms - first_ms) / 1000.0 AS mean_secs FROM \
         (SELECT incident_id, min(CAST(first_seen AS BIGINT)) AS first_ms, \
          min(CAST(last_seen AS BIGINT)) AS resolved_ms \
          FROM incidents WHERE {incidents} AND status = 'resolved' GROUP BY incident_id)",
    )?;
    Ok(rows.first().map_or((0, None), |row| {
        (
            number(row, "n"),
            row.get("mean_secs").and_then(Value::as_f64),
        )
    }))
}

/// Query text with the period's filters filled in: `{events}`,
/// `{incidents}`, `{actions}` become a `date` range, and `{latest}` a
/// `WITH latest AS (…)` clause holding each incident's latest revision.
struct Sql {
    range: String,
}

impl Sql {
    fn new(period: Period) -> Self {
        Self {
            range: format!("date BETWEEN '{}' AND '{}'", period.from, period.to),
        }
    }

    fn expand(&self, template: &str) -> String {
        let latest = format!(
            "WITH latest AS (SELECT * FROM (SELECT *, row_number() OVER \
             (PARTITION BY incident_id ORDER BY revision DESC) AS newest \
             FROM incidents WHERE {}) WHERE newest = 1)",
            self.range
        );
        template
            .replace("{latest}", &latest)
            .replace("{events}", &self.range)
            .replace("{incidents}", &self.range)
            .replace("{actions}", &self.range)
    }

    fn rows(
        &self,
        query: &ArchiveQuery,
        template: &str,
    ) -> Result<Vec<Map<String, Value>>, QueryError> {
        let batches = query.sql(&self.expand(template))?;
        Ok(to_rows(&batches))
    }

    fn counts(&self, query: &ArchiveQuery, template: &str) -> Result<Vec<Count>, QueryError> {
        Ok(self
            .rows(query, template)?
            .iter()
            .map(|row| Count {
                name: text(row, "name"),
                count: number(row, "n"),
            })
            .collect())
    }

    fn count(&self, query: &ArchiveQuery, template: &str) -> Result<u64, QueryError> {
        Ok(self
            .rows(query, template)?
            .first()
            .map_or(0, |row| number(row, "n")))
    }
}

/// Result rows as JSON objects, the simplest shape to read figures from.
fn to_rows(batches: &[RecordBatch]) -> Vec<Map<String, Value>> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    if writer
        .write_batches(&refs)
        .and_then(|()| writer.finish())
        .is_err()
    {
        return Vec::new();
    }
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice(&bytes).unwrap_or_default()
}

fn text(row: &Map<String, Value>, field: &str) -> String {
    row.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn number(row: &Map<String, Value>, field: &str) -> u64 {
    row.get(field).and_then(Value::as_u64).unwrap_or(0)
}

fn sum_by(rows: &[TypeSeverity], key: impl Fn(&TypeSeverity) -> &String) -> Vec<Count> {
    let mut sums: BTreeMap<&String, u64> = BTreeMap::new();
    for row in rows {
        *sums.entry(key(row)).or_default() += row.count;
    }
    let mut counts: Vec<Count> = sums
        .into_iter()
        .map(|(name, count)| Count {
            name: name.clone(),
            count,
        })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    counts
}

fn by_severity(rows: &[TypeSeverity]) -> Vec<Count> {
    Severity::ALL
        .iter()
        .map(|severity| Count {
            name: severity.as_str().to_owned(),
            count: rows
                .iter()
                .filter(|r| r.severity == severity.as_str())
                .map(|r| r.count)
                .sum(),
        })
        .collect()
}

fn per_day(period: Period, found: &[Count]) -> Vec<Count> {
    period
        .days()
        .map(|day| {
            let name = day.to_string();
            let count = Report::count_of(found, &name);
            Count { name, count }
        })
        .collect()
}
