with source as (
    select * from {{ source('intercom', 'contact_companies') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'contact_companies'), [
            ['workspace_id', 'varchar'],
            ['contact_id', 'varchar'],
            ['company_id', 'varchar'],
        ]) }}
    from source
)

select distinct * from renamed
