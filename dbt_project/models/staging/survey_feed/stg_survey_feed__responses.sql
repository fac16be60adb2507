{#- One row per line of a survey feed file, trimmed, empty strings as null, still text: the
    validation in int_survey__answers_validated decides what each value means. A response_id
    written on several lines (e.g. a corrected re-export) keeps every line; all but the latest
    (newest file, then last line) name it in `superseded_by`, so none is counted twice and none
    disappears. -#}
with source as (
    select * from {{ source('survey_feed', 'responses') }}
),

renamed as (
    select
        {{ typed_columns(source('survey_feed', 'responses'), [
            ['source_file', 'varchar'],
            ['source_line', 'bigint'],
            ['response_id', 'varchar'],
            ['contact_id', 'varchar'],
            ['external_id', 'varchar'],
            ['email', 'varchar'],
            ['conversation_id', 'varchar'],
            ['metric', 'varchar'],
            ['score', 'varchar'],
            ['comment', 'varchar'],
            ['sent_at', 'varchar'],
            ['responded_at', 'varchar'],
            ['parse_error', 'varchar'],
            ['file_modified_at', 'timestamp'],
            ['_dlt_load_id', 'varchar', 'optional'],
        ]) }}
    from source
),

lines as (
    select
        'feed:' || source_file || ':' || source_line as answer_key,
        source_file,
        source_line,
        nullif(trim(response_id), '') as response_id,
        nullif(trim(contact_id), '') as contact_id,
        nullif(trim(external_id), '') as external_id,
        nullif(lower(trim(email)), '') as email,
        nullif(trim(conversation_id), '') as conversation_id,
        nullif(trim(metric), '') as metric,
        nullif(trim(score), '') as score,
        nullif(trim(comment), '') as comment,
        nullif(trim(sent_at), '') as sent_at,
        nullif(trim(responded_at), '') as responded_at,
        parse_error,
        file_modified_at
    from renamed
    -- The raw table is merged on (source_file, source_line); should a line still be there twice,
    -- the most recent load wins.
    {{ deduplicate(['source_file', 'source_line'], '_dlt_load_id desc nulls last') }}
)

select
    *,
    case when response_id is not null then nullif(first_value(answer_key) over (
        partition by response_id
        order by file_modified_at desc nulls last, source_file desc, source_line desc
    ), answer_key) end as superseded_by
from lines
