with source as (
    select * from {{ source('intercom', 'articles') }}
),

renamed as (
    select
        {{ typed_columns(source('intercom', 'articles'), [
            ['workspace_id', 'varchar'],
            ['id', 'varchar', 'article_id'],
            ['author_id', 'varchar'],
            ['title', 'varchar', 'optional'],
            ['description', 'varchar', 'optional'],
            ['body', 'varchar'],
            ['state', 'varchar', 'optional'],
            ['url', 'varchar', 'optional'],
            ['default_locale', 'varchar', 'optional'],
            ['parent_ids', 'json'],
            ['created_at', 'utc', 'optional'],
            ['updated_at', 'utc', 'optional'],
        ]) }}
    from source
)

select * from renamed
{{ deduplicate(['workspace_id', 'article_id'], 'updated_at desc nulls last') }}
