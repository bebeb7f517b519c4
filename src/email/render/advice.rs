//! What each kind of incident means and what its reader should do next,
//! worded for the affected user or for the security team.

use super::Audience;
use crate::incident::IncidentType;

/// One sentence saying what an incident of this type is.
pub(super) fn headline(kind: IncidentType, audience: Audience) -> &'static str {
    match (kind, audience) {
        (IncidentType::ApiKeyCompromise, Audience::User) => {
            "One of your API keys appears to be used by someone else, or was exposed \
             where others could read it."
        }
        (IncidentType::ApiKeyCompromise, Audience::SecurityTeam) => {
            "An API key appears to be used by someone other than its owner, or a full \
             key was exposed."
        }
        (IncidentType::UnauthorizedAccess, Audience::User) => {
            "Someone tried to get into your account, or to call the API with it, \
             without permission."
        }
        (IncidentType::UnauthorizedAccess, Audience::SecurityTeam) => {
            "Access was attempted that should not succeed: failed logins, forbidden \
             calls or attempts across accounts."
        }
        (IncidentType::DdosAttack, Audience::User) => {
            "Your account sent far more requests per second than its limit allows."
        }
        (IncidentType::DdosAttack, Audience::SecurityTeam) => {
            "A flood of calls went over the per-second limits."
        }
        (IncidentType::DataBreach, Audience::User) => {
            "Data from your account appears to have gone where it should not."
        }
        (IncidentType::DataBreach, Audience::SecurityTeam) => {
            "Data appears to be leaving through the API where it should not."
        }
        (IncidentType::MalwareDetection, Audience::User) => {
            "Requests from your account look like they come from attack tools or \
             malicious software."
        }
        (IncidentType::MalwareDetection, Audience::SecurityTeam) => {
            "Known attack tools or malicious payloads were seen in requests."
        }
        (IncidentType::PolicyViolation, Audience::User) => {
            "Your account's usage went against the service's policy, for example over \
             its daily quota."
        }
        (IncidentType::PolicyViolation, Audience::SecurityTeam) => {
            "Usage went against policy: a quota, allowed hours or allowed endpoints."
        }
        (IncidentType::AnomalousUsage, Audience::User) => {
            "Your account was used in a way that differs from its usual pattern."
        }
        (IncidentType::AnomalousUsage, Audience::SecurityTeam) => {
            "Usage departed from the user's usual pattern without a clearer explanation."
        }
    }
}

/// The steps to take next, most urgent first.
pub(super) fn next_steps(kind: IncidentType, audience: Audience) -> &'static [&'static str] {
    match audience {
        Audience::User => for_user(kind),
        Audience::SecurityTeam => for_team(kind),
    }
}

fn for_user(kind: IncidentType) -> &'static [&'static str] {
    match kind {
        IncidentType::ApiKeyCompromise => &[
            "Create a new API key and put it in place of the old one in every \
             application, script and deployment secret that used it.",
            "Check your applications and your recent usage for calls you do not \
             recognise, and tell the security team if you find any.",
            "Keep keys out of source code, logs, tickets and chat; a secret manager \
             is the safe place for them.",
        ],
        IncidentType::UnauthorizedAccess => &[
            "If this was not you, change your password now and turn on multi-factor \
             authentication.",
            "Review the sessions and API keys of your account and remove any you do \
             not recognise.",
        ],
        IncidentType::DdosAttack => &[
            "If the traffic came from your own code, look for a retry loop or a \
             runaway job and add backoff: requests over the limit are refused.",
            "If you do not recognise the traffic, create a new API key and tell the \
             security team.",
        ],
        IncidentType::DataBreach => &[
            "Stop sharing or exporting the data involved until the security team has \
             looked at it.",
            "Create a new API key and review what data your applications fetched \
             recently.",
        ],
        IncidentType::MalwareDetection => &[
            "Check the machines that use your API key for malware, then create a new \
             key from a clean machine.",
            "Look through your code and its dependencies for components you did not \
             add.",
        ],
        IncidentType::PolicyViolation => &[
            "Compare your usage with your plan's limits and the acceptable use \
             policy; calls over a quota are refused until it resets.",
            "If you need more capacity, ask for a higher quota instead of spreading \
             calls over several keys.",
        ],
        IncidentType::AnomalousUsage => &[
            "Check whether this activity was yours (a new deployment, a batch job, \
             travel); if it was not, create a new API key.",
            "Tell the security team about anything you do not recognise.",
        ],
    }
}

fn for_team(kind: IncidentType) -> &'static [&'static str] {
    match kind {
        IncidentType::ApiKeyCompromise => &[
            "Confirm the key was revoked (see the actions taken); revoke it by hand \
             if the action failed or was skipped.",
            "Review the key's recent calls: endpoints, volumes and the addresses \
             involved, for data accessed and cost incurred.",
            "Block the unfamiliar addresses if the calls were not the owner's, and \
             ask the owner to confirm.",
        ],
        IncidentType::UnauthorizedAccess => &[
            "Check whether any attempt succeeded; if one did, end the user's sessions \
             and rotate their credentials.",
            "Look for the same source addresses against other accounts and block them \
             if this is a wider campaign.",
            "Tighten lockout or rate limits on the targeted endpoint if attempts \
             continue.",
        ],
        IncidentType::DdosAttack => &[
            "Find whether the flood comes from one key or a few addresses, and block \
             or rate-limit them at the edge.",
            "Watch latency and error rates, and shed load if other users suffer.",
            "Contact the key's owner if it looks like a misbehaving client rather \
             than an attack.",
        ],
        IncidentType::DataBreach => &[
            "Establish what data left, whose it was, and through which key and \
             endpoint; preserve the logs.",
            "Revoke the credentials involved and block the destination addresses.",
            "Start the breach notification procedure: legal and privacy deadlines \
             may apply.",
        ],
        IncidentType::MalwareDetection => &[
            "Isolate the source: block the addresses and revoke the keys involved.",
            "Inspect the matched tools or payloads in the evidence and search for the \
             same indicators across other users.",
        ],
        IncidentType::PolicyViolation => &[
            "Check whether this is a one-off or a pattern, and whether the user's \
             limits fit their legitimate use.",
            "Contact the user if it continues, and apply the policy's sanctions if it \
             is deliberate.",
        ],
        IncidentType::AnomalousUsage => &[
            "Compare the activity with the user's usual pattern and ask the user \
             whether it was expected.",
            "Treat it as a key compromise if the user does not recognise it.",
        ],
    }
}
