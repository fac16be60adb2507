{#- Raw tables only have the columns Intercom has sent so far: dlt creates a column with its
    first non-null value. Staging therefore selects every column it needs through
    `typed_columns`, which casts a present column and fills an absent one with a typed null, so a
    workspace that never used a feature still builds. -#}

{% macro existing_columns(relation) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do names.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names) }}
{%- endmacro %}

{#- specs: a list of [raw_name, type] or [raw_name, type, alias]. The type `utc` casts a
    timestamp with time zone to a UTC timestamp. -#}
{% macro typed_columns(relation, specs) -%}
    {%- set present = existing_columns(relation) -%}
    {%- for spec in specs %}
        {%- set name, data_type = spec[0], spec[1] -%}
        {%- set alias = spec[2] if spec | length > 2 else name -%}
        {%- set sql_type = 'timestamptz' if data_type == 'utc' else data_type -%}
        {%- set value = adapter.quote(name) if name | lower in present else 'null' -%}
        {%- if data_type == 'utc' %}
        timezone('UTC', cast({{ value }} as timestamptz)) as {{ alias }}
        {%- else %}
        cast({{ value }} as {{ sql_type }}) as {{ alias }}
        {%- endif -%}
        {{- "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
