{#- One row per contact with companies or tags: the complete lists (the contact object itself
    truncates them at ten). The primary company is the first by name, for a stable choice. -#}
with contacts as (
    select workspace_id, contact_id from {{ ref('stg_intercom__contacts') }}
),

companies as (
    select
        links.workspace_id,
        links.contact_id,
        count(*) as count_companies,
        string_agg(companies.company_name, ', ' order by companies.company_name) as company_names,
        arg_min(links.company_id, coalesce(companies.company_name, links.company_id))
            as primary_company_id,
        arg_min(companies.company_name, coalesce(companies.company_name, links.company_id))
            as primary_company_name
    from {{ ref('stg_intercom__contact_companies') }} as links
    left join {{ ref('stg_intercom__companies') }} as companies
        on links.workspace_id = companies.workspace_id
        and links.company_id = companies.company_id
    group by links.workspace_id, links.contact_id
),

tags as (
    select
        links.workspace_id,
        links.contact_id,
        string_agg(distinct tags.tag_name, ', ' order by tags.tag_name) as tag_names
    from {{ ref('stg_intercom__contact_tags') }} as links
    inner join {{ ref('stg_intercom__tags') }} as tags
        on links.workspace_id = tags.workspace_id
        and links.tag_id = tags.tag_id
    group by links.workspace_id, links.contact_id
)

select
    contacts.workspace_id,
    contacts.contact_id,
    coalesce(companies.count_companies, 0) as count_companies,
    companies.company_names,
    companies.primary_company_id,
    companies.primary_company_name,
    tags.tag_names
from contacts
left join companies
    on contacts.workspace_id = companies.workspace_id
    and contacts.contact_id = companies.contact_id
left join tags
    on contacts.workspace_id = tags.workspace_id
    and contacts.contact_id = tags.contact_id
