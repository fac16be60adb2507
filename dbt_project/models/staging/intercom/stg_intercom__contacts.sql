{#- Incremental: a contact is staged again when a load wrote it or its deletion mark. -#}
{{ config(materialized='incremental', unique_key=['workspace_id', 'contact_id']) }}

with source as (
    select * from {{ source('intercom', 'contacts') }}
),

deletions as (
    select * from {{ ref('stg_intercom__deletions') }} where object_type = 'contact'
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'contacts'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'contact_id'],
            ['external_id', 'varchar'],
            ['role', 'varchar', 'optional'],
            ['name', 'varchar', 'contact_name'],
            ['email', 'varchar', 'optional'],
            ['email_domain', 'varchar', 'optional'],
            ['phone', 'varchar'],
            ['owner_id', 'varchar', 'owner_admin_id'],
            ['unsubscribed_from_emails', 'boolean', 'is_unsubscribed_from_emails'],
            ['has_hard_bounced', 'boolean', 'optional'],
            ['marked_email_as_spam', 'boolean', 'has_marked_email_as_spam', 'optional'],
            ['language_override', 'varchar', 'optional'],
            ['browser', 'varchar', 'optional'],
            ['os', 'varchar', 'optional'],
            ['location', 'json', 'optional'],
            ['custom_attributes', 'json'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
            ['signed_up_at', 'utc', 'optional'],
            ['last_seen_at', 'utc', 'optional'],
            ['last_replied_at', 'utc', 'optional'],
            ['last_contacted_at', 'utc', 'optional'],
            ['last_email_opened_at', 'utc', 'optional'],
            ['last_email_clicked_at', 'utc', 'optional'],
            ['_dlt_load_id', 'varchar', 'optional'],
        ]) }}
    from source
),

final as (
    select
        renamed.* exclude (location, _dlt_load_id),
        json_extract_string(renamed.location, '$.country') as country,
        json_extract_string(renamed.location, '$.region') as region,
        json_extract_string(renamed.location, '$.city') as city,
        deletions.deleted_at,
        deletions.deleted_at is not null as is_deleted,
        greatest(renamed._dlt_load_id, deletions._dlt_load_id) as _dlt_load_id
    from renamed
    left join deletions
        on renamed.workspace_id = deletions.workspace_id
        and renamed.contact_id = deletions.object_id
)

select * from final
{% if is_incremental() %}
where {{ loaded_since_last_build() }}
{% endif %}
{{ deduplicate(['workspace_id', 'contact_id'], 'updated_at desc nulls last') }}
