{#- One row per survey request (a closure), typed; empty until surveys on close first run. -#}
with source as (
    select * from {{ from_optional_source('surveys', 'survey_requests') }}
)

select
    {{ typed_columns(source('surveys', 'survey_requests'), [
        ['request_id', 'varchar'],
        ['workspace_id', 'varchar'],
        ['conversation_id', 'varchar'],
        ['contact_id', 'varchar'],
        ['channel', 'varchar'],
        ['metric', 'varchar'],
        ['source', 'varchar', 'closure_source'],
        ['mode', 'varchar'],
        ['status', 'varchar'],
        ['reason', 'varchar'],
        ['reason_code', 'varchar'],
        ['error', 'varchar'],
        ['closed_at', 'timestamp'],
        ['first_seen_at', 'timestamp'],
        ['decided_at', 'timestamp'],
        ['sent_at', 'timestamp'],
        ['message_id', 'varchar'],
    ]) }}
from source
