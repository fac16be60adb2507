{#- One row per admin (teammate), with the conversations currently assigned to them; an admin
    with none has zero counts and null averages. -#}
with admins as (
    select * from {{ ref('stg_intercom__admins') }}
),

performance as (
    {{ performance_metrics('admin_assignee_id') }}
),

closed_by as (
    select workspace_id, last_closed_by_id, count(*) as conversations_last_closed
    from {{ ref('conversations') }}
    where state = 'closed' and last_closed_by_id is not null
    group by all
),

team_counts as (
    select workspace_id, admin_id, count(*) as count_teams
    from {{ ref('stg_intercom__team_admins') }}
    group by all
)

select
    admins.workspace_id,
    admins.admin_id,
    admins.admin_name,
    admins.email,
    admins.job_title,
    admins.is_away,
    coalesce(team_counts.count_teams, 0) as count_teams,
    {{ performance_columns('performance') }},
    coalesce(closed_by.conversations_last_closed, 0) as conversations_last_closed
from admins
left join performance
    on admins.workspace_id = performance.workspace_id
    and admins.admin_id = performance.performance_key
left join closed_by
    on admins.workspace_id = closed_by.workspace_id
    and admins.admin_id = closed_by.last_closed_by_id
left join team_counts
    on admins.workspace_id = team_counts.workspace_id
    and admins.admin_id = team_counts.admin_id
