{#- One row per team, with the conversations currently assigned to it; a team with none has
    zero counts and null averages. -#}
with teams as (
    select * from {{ ref('stg_intercom__teams') }}
),

performance as (
    {{ performance_metrics('team_assignee_id') }}
),

members as (
    select workspace_id, team_id, count(*) as count_admins
    from {{ ref('stg_intercom__team_admins') }}
    group by all
)

select
    teams.workspace_id,
    teams.team_id,
    teams.team_name,
    teams.distribution_method,
    coalesce(members.count_admins, 0) as count_admins,
    {{ performance_columns('performance') }}
from teams
left join performance
    on teams.workspace_id = performance.workspace_id
    and teams.team_id = performance.performance_key
left join members
    on teams.workspace_id = members.workspace_id
    and teams.team_id = members.team_id
