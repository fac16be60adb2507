{#- Every *_at column in the warehouse is a UTC timestamp without time zone. -#}

{% macro unix_to_utc(expression) -%}
    timezone('UTC', to_timestamp(cast({{ expression }} as bigint)))
{%- endmacro %}

{#- Minutes from `start` to `finish`, two decimals; null when either is null. -#}
{% macro minutes_between(start, finish) -%}
    round(date_diff('second', {{ start }}, {{ finish }}) / 60.0, 2)
{%- endmacro %}

{#- Days from `start` to `finish`, two decimals; null when either is null. -#}
{% macro days_between(start, finish) -%}
    round(date_diff('second', {{ start }}, {{ finish }}) / 86400.0, 2)
{%- endmacro %}

{#- "Now" for age metrics: the `as_of` var when set, else the build time (UTC). -#}
{% macro as_of() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as timestamp)
    {%- else -%}
        timezone('UTC', current_timestamp)
    {%- endif -%}
{%- endmacro %}

{#- A text timestamp from outside Intercom as UTC: ISO-8601 (a time without zone is UTC) or unix
    seconds. Null when it is neither. -#}
{% macro parse_timestamp(expression) -%}
    case
        when regexp_full_match({{ expression }}, '[0-9]{9,11}')
            then {{ unix_to_utc(expression) }}
        else timezone('UTC', try_cast({{ expression }} as timestamptz))
    end
{%- endmacro %}
