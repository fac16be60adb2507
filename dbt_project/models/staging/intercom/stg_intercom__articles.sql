with source as (
    select * from {{ source('intercom', 'articles') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'articles'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'article_id'],
            ['author_id', 'varchar'],
            ['title', 'varchar'],
            ['description', 'varchar'],
            ['body', 'varchar'],
            ['state', 'varchar'],
            ['url', 'varchar'],
            ['default_locale', 'varchar'],
            ['parent_ids', 'json'],
            ['created_at', 'utc'],
            ['updated_at', 'utc'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'article_id'], 'updated_at desc nulls last') }}
