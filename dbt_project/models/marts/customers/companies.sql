{#- One row per company, deleted ones included and flagged: the profile, its custom attributes as
    JSON, and how many contacts of the warehouse belong to it. -#}
with members as (
    select workspace_id, company_id, count(*) as count_contacts
    from {{ ref('stg_intercom__contact_companies') }}
    group by all
)

select
    companies.*,
    coalesce(members.count_contacts, 0) as count_contacts
from {{ ref('stg_intercom__companies') }} as companies
left join members
    on companies.workspace_id = members.workspace_id
    and companies.company_id = members.company_id
