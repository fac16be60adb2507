{#- One row per admin activity log entry: who did what in the workspace, and when. -#}
with logs as (
    select * from {{ ref('stg_intercom__admin_activity_logs') }}
),

admins as (
    select * from {{ ref('stg_intercom__admins') }}
)

select
    logs.workspace_id,
    logs.activity_log_id,
    logs.activity_type,
    logs.activity_description,
    logs.performed_by_admin_id as admin_id,
    admins.admin_name,
    logs.performed_by_email as admin_email,
    logs.performed_by_ip as ip_address,
    logs.metadata,
    logs.created_at
from logs
left join admins
    on logs.workspace_id = admins.workspace_id
    and logs.performed_by_admin_id = admins.admin_id
