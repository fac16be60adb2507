{#- One row per (team, admin): which teammate belongs to which team. -#}
select
    links.workspace_id,
    links.team_id,
    teams.team_name,
    links.admin_id,
    admins.admin_name,
    admins.email
from {{ ref('stg_intercom__team_admins') }} as links
left join {{ ref('stg_intercom__teams') }} as teams
    on links.workspace_id = teams.workspace_id
    and links.team_id = teams.team_id
left join {{ ref('stg_intercom__admins') }} as admins
    on links.workspace_id = admins.workspace_id
    and links.admin_id = admins.admin_id
