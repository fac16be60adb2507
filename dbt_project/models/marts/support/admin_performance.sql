{#- One row per admin (teammate), with the conversations currently assigned to them; an admin
    with none has zero counts and null averages. Unlike Fivetran's dbt_intercom, which credits
    the admin who closed last, a conversation counts for its current assignee;
    conversations_last_closed gives the other view. -#}
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
    select
        links.workspace_id,
        links.admin_id,
        count(*) as count_teams,
        string_agg(teams.team_name, ', ' order by teams.team_name) as team_names
    from {{ ref('stg_intercom__team_admins') }} as links
    left join {{ ref('stg_intercom__teams') }} as teams
        on links.workspace_id = teams.workspace_id
        and links.team_id = teams.team_id
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
    team_counts.team_names,
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
