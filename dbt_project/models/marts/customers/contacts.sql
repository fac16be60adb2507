{#- One row per contact (user or lead), deleted ones included and flagged: the profile, its
    custom attributes as JSON, its companies and tags. -#}
select
    contacts.*,
    memberships.count_companies,
    memberships.primary_company_id as company_id,
    memberships.primary_company_name as company_name,
    memberships.company_names,
    memberships.tag_names
from {{ ref('stg_intercom__contacts') }} as contacts
left join {{ ref('int_intercom__contact_memberships') }} as memberships
    on contacts.workspace_id = memberships.workspace_id
    and contacts.contact_id = memberships.contact_id
