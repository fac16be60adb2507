with source as (
    select * from {{ source('intercom', 'contact_tags') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'contact_tags'), [
            ['workspace_id', 'varchar'],
            ['contact_id', 'varchar'],
            ['tag_id', 'varchar'],
        ]) }}
    from source
)

select distinct * from renamed
