with source as (
    select * from {{ source('intercom', 'team_admins') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'team_admins'), [
            ['workspace_id', 'varchar'],
            ['team_id', 'varchar'],
            ['admin_id', 'varchar'],
        ]) }}
    from source
)

select distinct * from renamed
