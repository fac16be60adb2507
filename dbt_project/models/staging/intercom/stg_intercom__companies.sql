with source as (
    select * from {{ source('intercom', 'companies') }}
),

deletions as (
    select * from {{ ref('stg_intercom__deletions') }} where object_type = 'company'
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'companies'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'company_id'],
            ['company_id', 'varchar', 'external_company_id'],
            ['name', 'varchar', 'company_name', 'optional'],
            ['plan', 'json', 'optional'],
            ['monthly_spend', 'double'],
            ['size', 'bigint', 'company_size', 'optional'],
            ['website', 'varchar', 'optional'],
            ['industry', 'varchar', 'optional'],
            ['session_count', 'bigint', 'optional'],
            ['user_count', 'bigint', 'optional'],
            ['custom_attributes', 'json'],
            ['tags', 'json', 'optional'],
            ['remote_created_at', 'utc', 'optional'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc'],
            ['last_request_at', 'utc', 'optional'],
        ]) }}
    from source
),

final as (
    select
        renamed.* exclude (plan, tags),
        json_extract_string(renamed.plan, '$.id') as plan_id,
        json_extract_string(renamed.plan, '$.name') as plan_name,
        {{ json_names('renamed.tags', '$.tags[*].name') }} as tag_names,
        deletions.deleted_at,
        deletions.deleted_at is not null as is_deleted
    from renamed
    left join deletions
        on renamed.workspace_id = deletions.workspace_id
        and renamed.company_id = deletions.object_id
)

select * from final
{{ deduplicate(['workspace_id', 'company_id'], 'updated_at desc nulls last') }}
