with source as (
    select * from {{ source('intercom', 'teams') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'teams'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'team_id'],
            ['name', 'varchar', 'team_name', 'optional'],
            ['distribution_method', 'varchar', 'optional'],
            ['_dlt_load_id', 'varchar', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'team_id'], '_dlt_load_id desc') }}
