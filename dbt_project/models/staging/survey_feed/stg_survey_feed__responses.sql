{#- One row per line of a survey feed file, trimmed, empty strings as null, still text: the
    validation in int_survey__answers_validated decides what each value means. -#}
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
        ]) }}
    from source
)

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
    parse_error
from renamed
{{ deduplicate(['source_file', 'source_line'], 'source_line') }}
