{#- Survey responses of active audience members, with the audience and its tag. The members
    table is written by the audience syncs; before the first one it does not exist and this model
    is empty (with the same columns), so a build never depends on an audience having synced. -#}
{%- set members = source('audiences', 'audience_members') -%}
{%- set synced = execute and adapter.get_relation(
    database=members.database, schema=members.schema, identifier=members.identifier
) is not none -%}
select
    responses.*,
    members.audience_id,
    members.tag as audience_tag
from {{ ref('survey_responses') }} as responses
inner join
{%- if synced %} {{ members }}
{%- else %} (
    select
        null::varchar as audience_id,
        null::varchar as workspace_id,
        null::varchar as contact_id,
        null::varchar as status,
        null::varchar as tag
    where false
)
{%- endif %} as members
    on responses.workspace_id = members.workspace_id
    and responses.contact_id = members.contact_id
where members.status = 'active'
