{#- One row per bot (Fin, Operator, workflows): the authors that conversation parts call "bot".
    Intercom's admin list does not include them, so this is how an assignee is known to be a bot. -#}
select distinct
    workspace_id,
    author_id as bot_id,
    author_name as bot_name
from {{ ref('stg_intercom__conversation_parts') }}
where author_type = 'bot' and author_id is not null
qualify row_number() over (partition by workspace_id, author_id order by author_name) = 1
