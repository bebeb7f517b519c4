//! Planning: which actions a new incident revision calls for, on which
//! targets, and in what state they start. Planning is a pure function of
//! the revision, the playbook, the allowlist and what the incident already
//! carries, so a replay plans the same actions and records them the same.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::job::{Job, Target, job_key};
use super::playbook::{ActionKind, Playbook};
use super::suppress::Allowlist;
use crate::incident::{ActionRecord, Incident, IncidentStatus};

/// What planning needs besides the incident.
pub struct PlanContext<'a> {
    /// The playbook.
    pub playbook: &'a Playbook,
    /// Users and ranges never acted on.
    pub allow: &'a Allowlist,
    /// Record actions as `dry_run` instead of running them.
    pub dry_run: bool,
    /// What is configured to carry actions out.
    pub reach: Reach,
}

/// What is configured to carry actions out; an action with nothing to
/// carry it is recorded and audited only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// A gateway endpoint revokes keys.
    pub gateway: bool,
    /// A webhook receives incidents.
    pub webhook: bool,
    /// The security team has email addresses.
    pub security_team: bool,
}

/// A planned action: its record on the incident, and the job to run when
/// it is to run at all.
#[derive(Debug, Clone)]
pub struct Planned {
    /// What the incident records.
    pub record: ActionRecord,
    /// Its idempotency key.
    pub key: String,
    /// The work, for `pending` actions.
    pub job: Option<Job>,
}

/// The actions this revision adds: those the playbook calls for at its
/// type and severity that the incident does not carry yet. A resolved
/// incident gets none.
#[must_use]
pub fn plan(incident: &Incident, context: &PlanContext<'_>, now: DateTime<Utc>) -> Vec<Planned> {
    if incident.status == IncidentStatus::Resolved {
        return Vec::new();
    }
    let mut planned = Vec::new();
    for action in context
        .playbook
        .actions_for(incident.incident_type, incident.severity)
    {
        for target in targets(action, incident, context) {
            let label = target.label();
            let known = incident
                .actions
                .iter()
                .any(|a| a.action == action.as_str() && a.target.as_deref() == Some(&label));
            if known {
                continue;
            }
            let status = initial_status(action, &target, incident, context);
            let key = job_key(&incident.incident_id, action, &target);
            let job = (status == "pending").then(|| Job {
                key: key.clone(),
                action,
                target: target.clone(),
                incident: incident.clone(),
                planned_at: now,
            });
            let record = ActionRecord {
                action: action.as_str().to_owned(),
                target: Some(label),
                status: status.to_owned(),
                at: incident.last_seen,
                attempts: 0,
            };
            planned.push(Planned { record, key, job });
        }
    }
    planned
}

/// What an action acts on for this incident.
fn targets(action: ActionKind, incident: &Incident, context: &PlanContext<'_>) -> Vec<Target> {
    match action {
        ActionKind::RevokeApiKey => incident
            .entities
            .api_key_ids
            .iter()
            .map(|k| Target::ApiKey(k.clone()))
            .collect(),
        ActionKind::BlockIp => incident
            .entities
            .ips
            .iter()
            .map(|ip| Target::Ip(*ip))
            .collect(),
        ActionKind::EmailUser => vec![Target::User],
        ActionKind::Escalate => escalation_targets(context),
        ActionKind::Webhook => vec![Target::Webhook],
    }
}

/// The security team by email and the webhook, whichever are configured;
/// with neither, the escalation is recorded against the team.
fn escalation_targets(context: &PlanContext<'_>) -> Vec<Target> {
    let mut targets = Vec::new();
    if context.reach.security_team {
        targets.push(Target::SecurityTeam);
    }
    if context.reach.webhook {
        targets.push(Target::Webhook);
    }
    if targets.is_empty() {
        targets.push(Target::SecurityTeam);
    }
    targets
}

fn initial_status(
    action: ActionKind,
    target: &Target,
    incident: &Incident,
    context: &PlanContext<'_>,
) -> &'static str {
    if suppressed(target, incident, context.allow) {
        "suppressed"
    } else if context.dry_run {
        "dry_run"
    } else if !reachable(action, target, context) {
        "recorded"
    } else {
        "pending"
    }
}

/// Allowlisted users get no action; an allowlisted address is never
/// blocked, and an incident whose every address is allowlisted gets no
/// action at all.
fn suppressed(target: &Target, incident: &Incident, allow: &Allowlist) -> bool {
    if allow.allows_user(&incident.user_id) {
        return true;
    }
    if let Target::Ip(ip) = target
        && allow.allows_ip(*ip)
    {
        return true;
    }
    let ips: Vec<IpAddr> = incident.entities.ips.iter().copied().collect();
    !ips.is_empty() && ips.iter().all(|ip| allow.allows_ip(*ip))
}

/// Whether anything is configured to carry the action out; if not, it is
/// recorded and audited only.
fn reachable(action: ActionKind, target: &Target, context: &PlanContext<'_>) -> bool {
    match (action, target) {
        (ActionKind::RevokeApiKey, _) => context.reach.gateway,
        (ActionKind::Webhook, _) | (ActionKind::Escalate, Target::Webhook) => context.reach.webhook,
        (ActionKind::Escalate, _) => context.reach.security_team,
        (ActionKind::BlockIp | ActionKind::EmailUser, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::incident::{Entities, IncidentType};
    use crate::signal::Severity;
    use crate::time::Timestamp;

    fn incident(severity: Severity, ips: &[&str]) -> Incident {
        Incident {
            incident_id: "INC-20261203-0000000001".to_owned(),
            revision: 1,
            status: IncidentStatus::Open,
            incident_type: IncidentType::ApiKeyCompromise,
            severity,
            score: 0.8,
            user_id: "alice".to_owned(),
            entities: Entities {
                ips: ips.iter().map(|ip| ip.parse().unwrap()).collect(),
                api_key_ids: BTreeSet::from(["ak_7f3c".to_owned()]),
            },
            first_seen: Timestamp(0),
            last_seen: Timestamp(1_000),
            signals: Vec::new(),
            actions: Vec::new(),
        }
    }

    fn context<'a>(playbook: &'a Playbook, allow: &'a Allowlist) -> PlanContext<'a> {
        PlanContext {
            playbook,
            allow,
            dry_run: false,
            reach: Reach {
                gateway: true,
                webhook: false,
                security_team: true,
            },
        }
    }

    fn statuses(planned: &[Planned]) -> Vec<(String, String, String)> {
        planned
            .iter()
            .map(|p| {
                (
                    p.record.action.clone(),
                    p.record.target.clone().unwrap_or_default(),
                    p.record.status.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn a_high_key_compromise_revokes_the_key_and_tells_the_user() {
        let (playbook, allow) = (Playbook::builtin(), Allowlist::default());
        let planned = plan(
            &incident(Severity::High, &["198.51.100.9"]),
            &context(&playbook, &allow),
            Utc::now(),
        );
        let expected = [
            ("revoke_api_key", "ak_7f3c", "pending"),
            ("email_user", "user", "pending"),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(a, t, s)| ((*a).to_owned(), (*t).to_owned(), (*s).to_owned()))
            .collect();
        assert_eq!(statuses(&planned), expected);
        assert!(planned.iter().all(|p| p.job.is_some()));
        assert_eq!(
            planned[0].key,
            "INC-20261203-0000000001/revoke_api_key/ak_7f3c"
        );
    }

    #[test]
    fn actions_already_on_the_incident_are_not_planned_again() {
        let (playbook, allow) = (Playbook::builtin(), Allowlist::default());
        let context = context(&playbook, &allow);
        let mut current = incident(Severity::High, &[]);
        let first = plan(&current, &context, Utc::now());
        current.actions = first.iter().map(|p| p.record.clone()).collect();
        current.severity = Severity::Critical;
        let second = plan(&current, &context, Utc::now());
        assert_eq!(statuses(&second).len(), 1);
        assert_eq!(second[0].record.action, "escalate");
    }

    #[test]
    fn allowlisted_users_and_addresses_get_suppressed_actions() {
        let playbook = Playbook::builtin();
        let allow = Allowlist::new(
            vec!["10.0.0.0/8".parse().unwrap()],
            vec!["alice".to_owned()],
        );
        let planned = plan(
            &incident(Severity::High, &[]),
            &context(&playbook, &allow),
            Utc::now(),
        );
        assert!(
            planned
                .iter()
                .all(|p| p.record.status == "suppressed" && p.job.is_none())
        );
        let allow = Allowlist::new(vec!["10.0.0.0/8".parse().unwrap()], Vec::new());
        let planned = plan(
            &incident(Severity::High, &["10.1.1.1"]),
            &context(&playbook, &allow),
            Utc::now(),
        );
        assert!(planned.iter().all(|p| p.record.status == "suppressed"));
    }

    #[test]
    fn an_allowlisted_address_is_never_blocked_while_others_are() {
        let playbook = Playbook::builtin();
        let allow = Allowlist::new(vec!["10.0.0.0/8".parse().unwrap()], Vec::new());
        let mut access = incident(Severity::Medium, &["10.1.1.1", "203.0.113.7"]);
        access.incident_type = IncidentType::UnauthorizedAccess;
        let planned = plan(&access, &context(&playbook, &allow), Utc::now());
        let blocked: Vec<_> = statuses(&planned);
        assert!(blocked.contains(&("block_ip".into(), "10.1.1.1".into(), "suppressed".into())));
        assert!(blocked.contains(&("block_ip".into(), "203.0.113.7".into(), "pending".into())));
    }

    #[test]
    fn dry_run_and_unconfigured_targets_are_recorded_not_run() {
        let (playbook, allow) = (Playbook::builtin(), Allowlist::default());
        let mut dry = context(&playbook, &allow);
        dry.dry_run = true;
        let planned = plan(&incident(Severity::High, &[]), &dry, Utc::now());
        assert!(
            planned
                .iter()
                .all(|p| p.record.status == "dry_run" && p.job.is_none())
        );
        let mut bare = context(&playbook, &allow);
        bare.reach.gateway = false;
        let planned = plan(&incident(Severity::Medium, &[]), &bare, Utc::now());
        assert_eq!(planned[0].record.status, "recorded");
    }

    #[test]
    fn a_resolved_incident_gets_no_actions() {
        let (playbook, allow) = (Playbook::builtin(), Allowlist::default());
        let mut done = incident(Severity::Critical, &[]);
        done.status = IncidentStatus::Resolved;
        assert!(plan(&done, &context(&playbook, &allow), Utc::now()).is_empty());
    }
}
