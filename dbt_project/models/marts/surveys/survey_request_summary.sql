{#- Survey requests by day (UTC, of the closure), mode, status and reason: how many surveys went
    out and why the others did not. -#}
select
    cast(closed_at as date) as closure_date,
    mode,
    status,
    coalesce(reason, error, '') as reason,
    count(*) as requests
from {{ ref('stg_surveys__requests') }}
group by all
