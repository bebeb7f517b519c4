//! The incident board: the latest revision of recent incidents, with the
//! live state of their actions, as the HTTP API shows them. The incident
//! stream carries the actions as planned; the board adds how they went.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};

use super::playbook::ActionKind;
use crate::incident::{Incident, IncidentStatus};
use crate::time::Timestamp;

/// Incidents kept on the board; the oldest leave first.
const KEPT: usize = 10_000;

/// The live state of one action.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionState {
    /// `pending`, `retrying`, `succeeded`, `failed` or `recorded`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it last changed.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    incidents: BTreeMap<String, Incident>,
    order: VecDeque<String>,
    actions: HashMap<String, ActionState>,
}

/// Shared between the collector, the action runner and the HTTP API.
#[derive(Debug, Clone, Default)]
pub struct Board {
    state: Arc<RwLock<State>>,
}

/// Which incidents a listing wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this status.
    pub status: Option<IncidentStatus>,
    /// Only this user.
    pub user_id: Option<String>,
    /// At most this many, newest first.
    pub limit: usize,
}

impl Board {
    /// Puts a new revision on the board.
    pub fn record(&self, incident: &Incident) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let id = incident.incident_id.clone();
        if state
            .incidents
            .insert(id.clone(), incident.clone())
            .is_none()
        {
            state.order.push_back(id);
        }
        while state.order.len() > KEPT {
            if let Some(old) = state.order.pop_front() {
                state.incidents.remove(&old);
            }
        }
    }

    /// Notes how an action is going.
    pub fn action(&self, key: &str, action: ActionState) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.actions.insert(key.to_owned(), action);
    }

    /// The incident `id` with its actions' live state.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<Incident> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state
            .incidents
            .get(id)
            .map(|i| with_live_actions(i, &state))
    }

    /// Incidents matching `filter`, most recently seen first.
    #[must_use]
    pub fn list(&self, filter: &Filter) -> Vec<Incident> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let mut found: Vec<Incident> = state
            .incidents
            .values()
            .filter(|i| filter.status.is_none_or(|s| i.status == s))
            .filter(|i| filter.user_id.as_ref().is_none_or(|u| &i.user_id == u))
            .map(|i| with_live_actions(i, &state))
            .collect();
        found.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(a.incident_id.cmp(&b.incident_id))
        });
        found.truncate(filter.limit.max(1));
        found
    }
}

fn with_live_actions(incident: &Incident, state: &State) -> Incident {
    let mut shown = incident.clone();
    for record in &mut shown.actions {
        let Some(kind) = ActionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == record.action)
        else {
            continue;
        };
        let target = record.target.clone().unwrap_or_default();
        let key = format!("{}/{}/{target}", incident.incident_id, kind.as_str());
        if let Some(live) = state.actions.get(&key) {
            record.status.clone_from(&live.status);
            record.attempts = live.attempts;
            record.at = Timestamp(live.at.timestamp_millis());
        }
    }
    shown
}
