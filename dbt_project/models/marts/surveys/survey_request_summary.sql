{#- Survey requests by day (UTC, of the closure), mode, status and reason code: how many surveys
    went out and why the others did not. The code is stable; the free-text reason carries dates
    and tags, so it would split one reason into many rows. -#}
select
    cast(closed_at as date) as closure_date,
    mode,
    status,
    coalesce(reason_code, 'none') as reason_code,
    count(*) as requests
from {{ ref('stg_surveys__requests') }}
group by all
