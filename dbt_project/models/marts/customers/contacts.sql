{#- One row per contact (user or lead), deleted ones included and flagged: the profile, its
    custom attributes as JSON, its companies and tags.
    Incremental: a contact is rebuilt when it was staged again (a load wrote it or its deletion
    mark), or when its companies and tags no longer match what the table holds (a renamed
    company or tag changes no contact). -#}
{{ config(materialized='incremental', unique_key=['workspace_id', 'contact_id']) }}

with contacts as (
    select * from {{ ref('stg_intercom__contacts') }}
),

memberships as (
    select
        workspace_id,
        contact_id,
        count_companies,
        primary_company_id as company_id,
        primary_company_name as company_name,
        company_names,
        tag_names
    from {{ ref('int_intercom__contact_memberships') }}
),

{% if is_incremental() %}
changed as (
    -- staged again: a load wrote the contact (its companies and tags with it) or its deletion
    select workspace_id, contact_id from contacts where {{ loaded_since_last_build() }}
    union
    -- its companies or tags (their names) no longer what the table holds
    select workspace_id, contact_id from (
        select * from memberships
        except
        select
            workspace_id,
            contact_id,
            count_companies,
            company_id,
            company_name,
            company_names,
            tag_names
        from {{ this }}
    )
),

{% endif %}
final as (
    select
        contacts.* exclude (_dlt_load_id),
        memberships.* exclude (workspace_id, contact_id),
        contacts._dlt_load_id
    from contacts
    left join memberships
        on contacts.workspace_id = memberships.workspace_id
        and contacts.contact_id = memberships.contact_id
)

select * from final
{% if is_incremental() %}
where (workspace_id, contact_id) in (select workspace_id, contact_id from changed)
{% endif %}
